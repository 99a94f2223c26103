// Package pgtest gives tests a real PostgreSQL server: the one named by
// ARCA_TEST_POSTGRES_URL (which scripts/test starts), or else a throw-away
// cluster of its own in a temporary directory on a loopback port, run as
// an unprivileged user when the tests run as root (PostgreSQL refuses
// root). There is no mock: the database engine is only tested against
// the real server.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable with a superuser connection URL of a running
// server.
const EnvURL = "ARCA_TEST_POSTGRES_URL"

// Server is a running PostgreSQL server.
type Server struct {
	// URL connects as a superuser.
	URL string
	// Host and Port are where it listens.
	Host string
	Port int
}

// Start returns a server for the test: the shared one from EnvURL, or a
// new cluster stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return fromURL(t, u)
	}
	bin, err := binDir()
	if err != nil {
		t.Fatalf("PostgreSQL is needed for this test and none was found (%v): run ./scripts/test, which installs and starts one, or install the PostgreSQL server (Debian/Ubuntu: apt-get install postgresql), or set %s to a superuser URL", err, EnvURL)
	}
	return startCluster(t, bin)
}

func fromURL(t testing.TB, raw string) *Server {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", EnvURL, err)
	}
	port, _ := strconv.Atoi(u.Port())
	s := &Server{URL: raw, Host: u.Hostname(), Port: port}
	s.waitReady(t, 30*time.Second)
	return s
}

// binDir finds PostgreSQL's server programs (Debian keeps them out of PATH).
func binDir() (string, error) {
	if d := os.Getenv("ARCA_PG_BIN"); d != "" {
		return d, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		return "", fmt.Errorf("no initdb in PATH or /usr/lib/postgresql/*/bin")
	}
	slices.Sort(found)
	return filepath.Dir(found[len(found)-1]), nil
}

func startCluster(t testing.TB, bin string) *Server {
	dir, err := os.MkdirTemp("", "arca-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cred := unprivileged(t)
	password := RandomName("pw")
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		for _, p := range []string{dir, pwfile} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=scram-sha-256", "--pwfile="+pwfile, "-E", "UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := freePort(t)
	srv := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "max_connections=200")
	srv.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		t.Fatalf("starting postgres: %v", err)
	}
	t.Cleanup(func() {
		// SIGINT is PostgreSQL's fast shutdown: sessions are ended.
		_ = srv.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = srv.Process.Kill()
		}
		logf.Close()
	})
	s := &Server{
		URL:  (&url.URL{Scheme: "postgres", User: url.UserPassword("postgres", password), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Path: "/postgres", RawQuery: "sslmode=disable"}).String(),
		Host: "127.0.0.1", Port: port,
	}
	s.waitReady(t, 30*time.Second)
	return s
}

// unprivileged is the credential to run PostgreSQL with: nil when the
// tests are not root, else the "nobody" user's.
func unprivileged(t testing.TB) *syscall.Credential {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("running as root and no user nobody to run PostgreSQL as: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *Server) waitReady(t testing.TB, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.URL)
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("PostgreSQL at %s:%d did not become ready: %v", s.Host, s.Port, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Connect opens a connection as the superuser, closed when the test ends.
func (s *Server) Connect(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		t.Fatalf("connecting to PostgreSQL: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// NewSuperuser creates a superuser with a random name and password (so a
// test may rotate its password without disturbing others) and returns
// them.
func (s *Server) NewSuperuser(t testing.TB) (name, password string) {
	t.Helper()
	name, password = RandomName("admin"), RandomName("pw")
	conn := s.Connect(t)
	if _, err := conn.Exec(context.Background(), fmt.Sprintf("CREATE ROLE %s WITH SUPERUSER LOGIN PASSWORD '%s'", pgx.Identifier{name}.Sanitize(), password)); err != nil {
		t.Fatalf("creating superuser: %v", err)
	}
	return name, password
}

// URLFor is a connection URL to the server for user and password.
func (s *Server) URLFor(user, password string) string {
	return (&url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), Path: "/postgres", RawQuery: "sslmode=disable&connect_timeout=5"}).String()
}

// TemplateURL is a connection_url with {{username}} and {{password}}
// placeholders, as Vault's database engine takes it.
func (s *Server) TemplateURL() string {
	return fmt.Sprintf("postgres://{{username}}:{{password}}@%s/postgres?sslmode=disable", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)))
}

// RandomName is prefix_ and 12 random hex digits, a safe identifier.
func RandomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}
