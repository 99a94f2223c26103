package database

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

// ErrDatabase marks a failure of the database itself (down, refused a
// statement): the client sees the engine's message, never a password.
var ErrDatabase = logical.ErrUpstream

// connectTimeout bounds a connection attempt, so a database that is down
// answers quickly with an error rather than hanging the request.
const connectTimeout = 5 * time.Second

// pools holds one connection pool per connection name, opened lazily.
type pools struct {
	mu sync.Mutex
	m  map[string]*pgxpool.Pool
}

func newPools() *pools { return &pools{m: map[string]*pgxpool.Pool{}} }

// get returns the pool for name, opening it from st's configuration.
func (p *pools) get(ctx context.Context, st storage.Backend, name string) (*pgxpool.Pool, *connConfig, error) {
	c, err := mustConfig(ctx, st, name)
	if err != nil {
		return nil, nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if pool := p.m[name]; pool != nil {
		return pool, c, nil
	}
	pool, err := openPool(c, c.Password)
	if err != nil {
		return nil, nil, dbError(name, "connecting", err, c.Password)
	}
	if c.PendingPassword != "" {
		if pool, err = adoptPending(ctx, st, name, c, pool); err != nil {
			return nil, nil, err
		}
	}
	p.m[name] = pool
	return pool, c, nil
}

// adoptPending settles a rotate-root that stopped between changing the
// admin password in the database and storing it (a crash, a lost
// connection): the configuration still holds the old password and the
// new one as pending. When the database refuses the old one and takes
// the pending one, the pending one becomes the password, so nothing is
// lost. In any other case the pool with the stored password is kept.
func adoptPending(ctx context.Context, st storage.Backend, name string, c *connConfig, pool *pgxpool.Pool) (*pgxpool.Pool, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := pool.Ping(ctx); !isAuthFailure(err) {
		return pool, nil
	}
	alt, err := openPool(c, c.PendingPassword)
	if err != nil {
		return pool, nil
	}
	if err := alt.Ping(ctx); err != nil {
		alt.Close()
		return pool, nil
	}
	pool.Close()
	c.Password, c.PendingPassword = c.PendingPassword, ""
	if err := putConfig(ctx, st, name, c); err != nil {
		alt.Close()
		return nil, fmt.Errorf("storing the admin password of database %q that an interrupted rotate-root had set: %w", name, err)
	}
	return alt, nil
}

// isAuthFailure says whether PostgreSQL refused the login's password.
func isAuthFailure(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "28P01" || pe.Code == "28000")
}

func (p *pools) drop(name string) {
	p.mu.Lock()
	pool := p.m[name]
	delete(p.m, name)
	p.mu.Unlock()
	if pool != nil {
		pool.Close()
	}
}

func (p *pools) closeAll() {
	p.mu.Lock()
	all := p.m
	p.m = map[string]*pgxpool.Pool{}
	p.mu.Unlock()
	for _, pool := range all {
		pool.Close()
	}
}

// placeholder stands for {{username}} and {{password}} while the URL is
// parsed; the real values are set on the parsed configuration, so they
// need no escaping whatever characters they hold.
const placeholder = "arca-placeholder"

func poolConfig(c *connConfig, password string) (*pgxpool.Config, error) {
	raw := strings.NewReplacer("{{username}}", placeholder, "{{password}}", placeholder).Replace(c.ConnectionURL)
	cfg, err := pgxpool.ParseConfig(raw)
	if err != nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "connection_url cannot be parsed: %s", scrub(err.Error(), password, c.ConnectionURL))
	}
	if strings.Contains(c.ConnectionURL, "{{username}}") || c.Username != "" {
		cfg.ConnConfig.User = c.Username
	}
	if strings.Contains(c.ConnectionURL, "{{password}}") || password != "" {
		cfg.ConnConfig.Password = password
	}
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > connectTimeout {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	cfg.MaxConns = int32(c.MaxOpenConnections)
	if c.MaxConnectionLifetime > 0 {
		cfg.MaxConnLifetime = c.MaxConnectionLifetime
	}
	cfg.MaxConnIdleTime = time.Minute
	cfg.ConnConfig.RuntimeParams["application_name"] = "arca"
	return cfg, nil
}

func checkConnectionURL(u string) error {
	_, err := poolConfig(&connConfig{ConnectionURL: u, MaxOpenConnections: 1}, "")
	return err
}

func openPool(c *connConfig, password string) (*pgxpool.Pool, error) {
	cfg, err := poolConfig(c, password)
	if err != nil {
		return nil, err
	}
	return pgxpool.NewWithConfig(context.Background(), cfg)
}

// verifyConnection logs in with c's credentials and pings.
func verifyConnection(ctx context.Context, name string, c *connConfig) error {
	pool, err := openPool(c, c.Password)
	if err != nil {
		return dbError(name, "verifying the connection", err, c.Password)
	}
	defer pool.Close()
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := pool.Ping(ctx); err != nil {
		return dbError(name, "verifying the connection", err, c.Password)
	}
	return nil
}

// dbError is a database failure as the client sees it: what Arca was
// doing, on which connection, and PostgreSQL's message, with any secret
// cut out. The cause stays reachable with errors.As (for retries) but is
// never printed.
func dbError(conn, doing string, err error, secrets ...string) error {
	var le *logical.Error
	if errors.As(err, &le) {
		return err
	}
	var f *dbFailure
	if errors.As(err, &f) {
		return err
	}
	msg := err.Error()
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		msg = fmt.Sprintf("%s (SQLSTATE %s)", pe.Message, pe.Code)
	}
	return &dbFailure{msg: fmt.Sprintf("database %q: %s: %s", conn, doing, scrub(msg, secrets...)), cause: err}
}

// dbFailure is an upstream (502) error whose message is safe to show.
type dbFailure struct {
	msg   string
	cause error
}

func (f *dbFailure) Error() string   { return f.msg }
func (f *dbFailure) Unwrap() []error { return []error{ErrDatabase, f.cause} }

// transient says whether err is a conflict between concurrent catalog
// changes that succeeds when tried again: PostgreSQL answers concurrent
// GRANTs on one table, or concurrent DROP OWNED, with "tuple concurrently
// updated", and may pick a deadlock victim.
func transient(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40001", "40P01":
		return true
	case "XX000":
		return strings.Contains(pe.Message, "concurrently")
	}
	return false
}

// scrub replaces every secret in msg.
func scrub(msg string, secrets ...string) string {
	for _, s := range secrets {
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}

// poolish is what inTx needs of a pool.
type poolish interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// inTx runs f in a transaction on pool, committed if f succeeds. A
// transient conflict with a concurrent transaction rolls back and runs f
// again, a few times.
func inTx(ctx context.Context, pool poolish, conn, password string, f func(pgx.Tx) error) error {
	var err error
	for attempt := range 8 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(time.Duration(attempt*attempt) * 5 * time.Millisecond):
			}
		}
		if err = tryTx(ctx, pool, conn, password, f); !transient(err) {
			return err
		}
	}
	return err
}

func tryTx(ctx context.Context, pool poolish, conn, password string, f func(pgx.Tx) error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return dbError(conn, "connecting", err, password)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return dbError(conn, "committing", err, password)
	}
	return nil
}
