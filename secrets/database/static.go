package database

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

const staticPrefix = "static-role/"

const (
	// minRotationPeriod is the shortest schedule, as in Vault.
	minRotationPeriod = 5 * time.Second
	// retryAfter is how soon a failed rotation is tried again.
	retryAfter = 10 * time.Second
)

var defaultRotation = []string{`ALTER ROLE "{{name}}" WITH PASSWORD '{{password}}'`}

// staticRole is an existing database user whose password Arca owns.
type staticRole struct {
	DBName         string        `json:"db_name"`
	Username       string        `json:"username"`
	RotationPeriod time.Duration `json:"rotation_period"`
	Rotation       []string      `json:"rotation_statements,omitempty"`
	Password       string        `json:"password"`
	LastRotation   time.Time     `json:"last_vault_rotation"`
	NextRotation   time.Time     `json:"next_rotation"`
	// PendingPassword is the password a rotation is setting, written
	// before the database changes; a role left with one (a crash in
	// between) is rotated again at once.
	PendingPassword string `json:"pending_password,omitempty"`
}

func getStaticRole(ctx context.Context, st storage.Backend, name string) (*staticRole, error) {
	e, err := st.Get(ctx, staticPrefix+name)
	if err != nil || e == nil {
		return nil, err
	}
	var s staticRole
	if err := json.Unmarshal(e.Value, &s); err != nil {
		return nil, fmt.Errorf("decoding static role %q: %w", name, err)
	}
	return &s, nil
}

func putStaticRole(ctx context.Context, st storage.Backend, name string, s *staticRole) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return st.Put(ctx, &storage.Entry{Key: staticPrefix + name, Value: raw})
}

func (e *Engine) readStaticRole(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	s, err := getStaticRole(ctx, req.Storage, name)
	if err != nil || s == nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]any{
		"db_name":             s.DBName,
		"username":            s.Username,
		"rotation_period":     int64(s.RotationPeriod / time.Second),
		"rotation_statements": logical.NonNil(s.Rotation),
		"last_vault_rotation": s.LastRotation.Format(time.RFC3339Nano),
		"credential_type":     "password",
		"credential_config":   map[string]any{},
	}}, nil
}

// writeStaticRole creates a static role, setting the user's password at
// once (a role whose first rotation fails is not stored), or updates its
// schedule and statements. The user and database cannot change.
func (e *Engine) writeStaticRole(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	if r, err := getRole(ctx, req.Storage, name); err != nil {
		return nil, err
	} else if r != nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "%q is already a dynamic role; role names are shared", name)
	}
	e.statics.Lock()
	defer e.statics.Unlock()
	s, err := getStaticRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	create := s == nil
	if create {
		s = &staticRole{}
	}
	d := req.Data
	for key, dst := range map[string]*string{"db_name": &s.DBName, "username": &s.Username} {
		if _, ok := d[key]; !ok {
			continue
		}
		v, err := logical.StringParam(d, key)
		if err != nil {
			return nil, err
		}
		if !create && v != *dst {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "%s of a static role cannot be changed", key)
		}
		*dst = v
	}
	if s.DBName == "" || s.Username == "" {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "db_name and username are required")
	}
	if err := safeValue("username", s.Username); err != nil {
		return nil, err
	}
	if p, ok, err := logical.DurationParam(d, "rotation_period"); err != nil {
		return nil, err
	} else if ok {
		s.RotationPeriod = p
	}
	if s.RotationPeriod < minRotationPeriod {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "rotation_period is required and must be at least %s", minRotationPeriod)
	}
	if _, ok := d["rotation_statements"]; ok {
		if s.Rotation, err = statementsParam(d, "rotation_statements"); err != nil {
			return nil, err
		}
	}
	conf, err := mustConfig(ctx, req.Storage, s.DBName)
	if err != nil {
		return nil, err
	}
	if !conf.allows(name) {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "role %q is not in the allowed_roles of database %q", name, s.DBName)
	}
	if create {
		return nil, e.rotateStatic(ctx, req.Storage, name, s, false)
	}
	s.NextRotation = s.LastRotation.Add(s.RotationPeriod)
	return nil, putStaticRole(ctx, req.Storage, name, s)
}

// deleteStaticRole stops managing the user; its password stays as it is.
func (e *Engine) deleteStaticRole(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	e.statics.Lock()
	defer e.statics.Unlock()
	return nil, req.Storage.Delete(ctx, staticPrefix+name)
}

func (e *Engine) readStaticCreds(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	s, err := getStaticRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "unknown static role: %s", name)
	}
	return &logical.Response{Data: map[string]any{
		"username":            s.Username,
		"password":            s.Password,
		"last_vault_rotation": s.LastRotation.Format(time.RFC3339Nano),
		"rotation_period":     int64(s.RotationPeriod / time.Second),
		"ttl":                 int64(max(0, s.NextRotation.Sub(e.now())) / time.Second),
	}}, nil
}

// rotateRole rotates a static role's password now.
func (e *Engine) rotateRole(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	e.statics.Lock()
	defer e.statics.Unlock()
	s, err := getStaticRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "unknown static role: %s", name)
	}
	return nil, e.rotateStatic(ctx, req.Storage, name, s, true)
}

// rotateStatic sets a new password for s's user and stores it. On
// failure the old password stays current and, for a stored role, the
// next attempt is scheduled soon. e.statics must be held.
func (e *Engine) rotateStatic(ctx context.Context, st storage.Backend, name string, s *staticRole, stored bool) error {
	conf, err := mustConfig(ctx, st, s.DBName)
	if err != nil {
		return err
	}
	pw, err := e.newPassword(ctx, conf)
	if err != nil {
		return err
	}
	if stored {
		s.PendingPassword = pw
		if err := putStaticRole(ctx, st, name, s); err != nil {
			return err
		}
	}
	stmts := s.Rotation
	if len(stmts) == 0 {
		stmts = defaultRotation
	}
	err = e.execOn(ctx, st, s.DBName, pw, "rotation_statements", stmts, vars{name: s.Username, password: pw})
	now := e.now()
	s.PendingPassword = ""
	if err != nil {
		if !stored {
			return err
		}
		s.NextRotation = now.Add(retryAfter)
		if perr := putStaticRole(ctx, st, name, s); perr != nil {
			return perr
		}
		return err
	}
	s.Password, s.LastRotation, s.NextRotation = pw, now, now.Add(s.RotationPeriod)
	return putStaticRole(ctx, st, name, s)
}

// execOn runs a statement list in one transaction on a connection.
func (e *Engine) execOn(ctx context.Context, st storage.Backend, conn, password, listName string, stmts []string, v vars) error {
	pool, _, err := e.pools.get(ctx, st, conn)
	if err != nil {
		return err
	}
	return inTx(ctx, pool, conn, password, func(tx pgx.Tx) error {
		return run(ctx, tx, conn, listName, stmts, v)
	})
}

// rotateLoop rotates static roles when they are due, until ctx ends.
func (e *Engine) rotateLoop(ctx context.Context, conf logical.MountConfig, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.rotateDue(ctx, conf.Storage)
		}
	}
}

func (e *Engine) rotateDue(ctx context.Context, st storage.Backend) {
	names, err := st.List(ctx, staticPrefix)
	if err != nil {
		return
	}
	for _, name := range names {
		if strings.HasSuffix(name, "/") || ctx.Err() != nil {
			continue
		}
		e.statics.Lock()
		s, err := getStaticRole(ctx, st, name)
		if err == nil && s != nil && (s.PendingPassword != "" || !e.now().Before(s.NextRotation)) {
			// A failure is rescheduled inside; the next tick moves on.
			_ = e.rotateStatic(ctx, st, name, s, true)
		}
		e.statics.Unlock()
	}
}
