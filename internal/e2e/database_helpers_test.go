package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/openbao/openbao/api/v2"

	"github.com/arca-secrets/arca/internal/pgtest"
)

// dbFixture is a dev server with the database engine mounted and a
// connection "pg" to a real PostgreSQL as a fresh superuser.
type dbFixture struct {
	pg          *pgtest.Server
	proc        *proc
	root        *api.Client
	admin, pass string
	// table is a table the "readonly" role may SELECT from.
	table string
}

func newDBFixture(t *testing.T) *dbFixture {
	t.Helper()
	return newDBFixtureWith(t, nil)
}

// newDBFixtureWith lets via choose the address Arca connects to (a proxy)
// given PostgreSQL's host:port.
func newDBFixtureWith(t *testing.T, via func(hostport string) string) *dbFixture {
	t.Helper()
	pg := pgtest.Start(t)
	f := &dbFixture{pg: pg, table: pgtest.RandomName("app_data")}
	f.admin, f.pass = pg.NewSuperuser(t)
	conn := pg.Connect(t)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE TABLE %s (v text); INSERT INTO %[1]s VALUES ('hello')", f.table)); err != nil {
		t.Fatal(err)
	}
	f.proc, f.root = startDev(t, "root")
	if err := f.root.Sys().Mount("database", &api.MountInput{Type: "database"}); err != nil {
		t.Fatal(err)
	}
	connURL := pg.TemplateURL()
	if via != nil {
		hostport := net.JoinHostPort(pg.Host, fmt.Sprint(pg.Port))
		connURL = strings.Replace(connURL, hostport, via(hostport), 1)
	}
	f.write(t, "database/config/pg", map[string]any{
		"plugin_name":    "postgresql-database-plugin",
		"connection_url": connURL,
		"username":       f.admin,
		"password":       f.pass,
		"allowed_roles":  "readonly,short,bad",
	})
	f.write(t, "database/roles/readonly", map[string]any{
		"db_name": "pg",
		"creation_statements": []string{
			`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
			fmt.Sprintf(`GRANT SELECT ON %s TO "{{name}}";`, f.table),
		},
		"default_ttl": "1h",
		"max_ttl":     "24h",
	})
	return f
}

func (f *dbFixture) write(t *testing.T, path string, data map[string]any) *api.Secret {
	t.Helper()
	s, err := f.root.Logical().Write(path, data)
	if err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return s
}

func (f *dbFixture) creds(t *testing.T, role string) (user, password string, s *api.Secret) {
	t.Helper()
	s, err := f.root.Logical().Read("database/creds/" + role)
	if err != nil || s == nil {
		t.Fatalf("creds/%s: %v", role, err)
	}
	return s.Data["username"].(string), s.Data["password"].(string), s
}

// login connects as user; the error says why it could not.
func (f *dbFixture) login(user, password string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return pgx.Connect(ctx, f.pg.URLFor(user, password))
}

func (f *dbFixture) roleExists(t *testing.T, user string) bool {
	t.Helper()
	var n int
	if err := f.pg.Connect(t).QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE rolname = $1", user).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// waitGone waits until user is no longer a role in the database.
func (f *dbFixture) waitGone(t *testing.T, user string, limit time.Duration) {
	t.Helper()
	if !eventually(limit, func() bool { return !f.roleExists(t, user) }) {
		t.Fatalf("role %s still exists after %s", user, limit)
	}
}

// tcpProxy forwards a loopback port to target until it is cut; it can be
// cut (all connections dropped, the port closed) and restored on the
// same port, to make a real database unreachable and back.
type tcpProxy struct {
	addr, target string
	mu           sync.Mutex
	l            net.Listener
	conns        []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{target: target}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = l.Addr().String()
	p.serve(l)
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) serve(l net.Listener) {
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *tcpProxy) restore(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.serve(l)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

// countUsers counts the database users whose name starts with prefix.
func (f *dbFixture) countUsers(t *testing.T, prefix string) int {
	t.Helper()
	var n int
	if err := f.pg.Connect(t).QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE starts_with(rolname, $1)", prefix).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
