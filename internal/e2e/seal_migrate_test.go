package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/openbao/openbao/api/v2"

	"github.com/arca-secrets/arca/internal/softhsmtest"
)

// migServer is one bolt-backed server restarted with one config after
// another, as an operator migrating its seal does.
type migServer struct {
	t      *testing.T
	addr   string
	dbPath string
	p      *proc
}

// start (re)starts the server with the given seal blocks.
func (s *migServer) start(seals ...string) *api.Client {
	s.t.Helper()
	s.stop()
	conf := writeConfig(s.t, s.addr, `storage "bolt" { path = "`+s.dbPath+`" }`, append([]string{"disable_mlock = true"}, seals...)...)
	s.p = startArca(s.t, s.addr, "-config="+conf)
	return newClient(s.t, s.addr, "")
}

func (s *migServer) stop() {
	if s.p != nil {
		s.p.kill()
		s.p = nil
	}
}

// disabled marks a seal block as the one a migration moves away from.
func disabled(block string) string {
	i := strings.Index(block, "{")
	return block[:i+1] + "\n  disabled = \"true\"" + block[i+1:]
}

// migrationData is what the server holds before the first migration:
// a KV secret, a token, and a login lease with its token.
type migrationData struct {
	root, child, bob string
}

func writeMigrationData(t *testing.T, c *api.Client) migrationData {
	t.Helper()
	ctx := context.Background()
	if err := c.Sys().Mount("secret", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.KVv2("secret").Put(ctx, "app", map[string]any{"password": "hunter2"}); err != nil {
		t.Fatal(err)
	}
	putPolicy(t, c, "reader", `path "secret/data/app" { capabilities = ["read"] }`)
	enableUserpass(t, c, "24h")
	return migrationData{root: c.Token(), child: childToken(t, c, "reader"), bob: loginBob(t, c).Auth.ClientToken}
}

// check fails unless everything written before is readable through the
// server at addr.
func (d migrationData) check(t *testing.T, addr, when string) {
	t.Helper()
	ctx := context.Background()
	s, err := newClient(t, addr, d.child).KVv2("secret").Get(ctx, "app")
	if err != nil || s.Data["password"] != "hunter2" {
		t.Fatalf("%s: the secret through the child token: %v, %v", when, s, err)
	}
	if _, err := newClient(t, addr, d.bob).Auth().Token().LookupSelf(); err != nil {
		t.Fatalf("%s: bob's login token: %v", when, err)
	}
	list, err := newClient(t, addr, d.root).Logical().List("sys/leases/lookup/auth/userpass/login/bob")
	if err != nil || list == nil || len(list.Data["keys"].([]any)) != 1 {
		t.Fatalf("%s: bob's login lease: %+v, %v", when, list, err)
	}
}

// migrate gives the shares to arca operator unseal -migrate.
func migrate(t *testing.T, addr string, shares ...string) {
	t.Helper()
	env := []string{"ARCA_ADDR=http://" + addr}
	for _, k := range shares {
		arca(t, env, "", "operator", "unseal", "-migrate", k).must(t, 0)
	}
	st, err := newClient(t, addr, "").Sys().SealStatus()
	if err != nil || st.Sealed || st.Migration {
		t.Fatalf("after unseal -migrate: %+v, %v; want unsealed, no migration", st, err)
	}
}

// inMigration checks seal-status in migration mode and that unseal
// without -migrate is refused, saying what to do.
func inMigration(t *testing.T, addr, typ, share string) {
	t.Helper()
	st, err := newClient(t, addr, "").Sys().SealStatus()
	if err != nil || !st.Sealed || !st.Migration || st.Type != typ || st.T != 2 || st.N != 3 {
		t.Fatalf("seal-status in migration mode: %+v, %v; want sealed, migration, type %s, 2 of 3", st, err, typ)
	}
	r := arca(t, []string{"ARCA_ADDR=http://" + addr}, "", "operator", "unseal", share)
	if r.code == 0 || !strings.Contains(r.stderr, "seal migration mode") || !strings.Contains(r.stderr, "-migrate") {
		t.Fatalf("unseal without -migrate: exit %d, %s %s; want refused, naming -migrate", r.code, r.stdout, r.stderr)
	}
}

// holdingProxy forwards to the unsealer, and while hold is set keeps every
// transit encrypt waiting until the client goes away, telling held.
type holdingProxy struct {
	srv  *httptest.Server
	hold atomic.Bool
	held chan struct{}
}

func newHoldingProxy(t *testing.T, target string) *holdingProxy {
	u, err := url.Parse("http://" + target)
	if err != nil {
		t.Fatal(err)
	}
	h := &holdingProxy{held: make(chan struct{}, 8)}
	release := make(chan struct{})
	rp := httputil.NewSingleHostReverseProxy(u)
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.hold.Load() && strings.Contains(r.URL.Path, "/encrypt/") {
			// With the body read, the server watches the connection and
			// ends the request's context when the client goes away.
			_, _ = io.Copy(io.Discard, r.Body)
			h.held <- struct{}{}
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(h.srv.Close)
	t.Cleanup(func() { close(release) })
	return h
}

// TestSealMigrationRoundTrip migrates a server holding a KV secret, tokens
// and a lease Shamir → PKCS#11 (SoftHSM2) → transit (a second server) →
// Shamir, restarting between steps with the config changed; the process
// is killed in the middle of the second migration and still unseals with
// the old seal. The same three shares serve throughout: unseal shares,
// then recovery shares, then unseal shares again.
func TestSealMigrationRoundTrip(t *testing.T) {
	s := &migServer{t: t, addr: freeAddr(t), dbPath: filepath.Join(t.TempDir(), "arca.db")}
	tk := softhsmtest.New(t, "arca-migrate")
	pkcs11Block := fmt.Sprintf("seal \"pkcs11\" {\n  lib = %q\n  token_label = %q\n  pin = %q\n  key_label = %q\n  generate_key = true\n}\n", tk.Lib, tk.Label, tk.PIN, pkcs11KeyLabel)
	shamirBlock := "seal \"shamir\" {}\n"

	// Shamir: init 3 shares, threshold 2, and data.
	c := s.start()
	init, err := c.Sys().Init(&api.InitRequest{SecretShares: 3, SecretThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	keys := init.KeysB64
	unseal(t, c, keys[0], keys[1])
	c.SetToken(init.RootToken)
	data := writeMigrationData(t, c)
	data.check(t, s.addr, "before any migration")

	// Shamir → PKCS#11 with the unseal shares.
	s.start(disabled(shamirBlock), pkcs11Block)
	inMigration(t, s.addr, "pkcs11", keys[0])
	migrate(t, s.addr, keys[2], keys[0])
	data.check(t, s.addr, "after migrating to pkcs11")
	c = s.start(pkcs11Block)
	waitUnsealed(t, c)
	if st, _ := c.Sys().SealStatus(); !st.RecoverySeal || st.T != 2 || st.N != 3 {
		t.Fatalf("pkcs11 seal-status: %+v; want the shares as recovery shares, 2 of 3", st)
	}
	data.check(t, s.addr, "restarted with the pkcs11 seal")

	// PKCS#11 → transit, killed while the unsealer holds the new wrap.
	u, uRoot := startDev(t, devRoot)
	uTok := transitUnsealer(t, uRoot)
	proxy := newHoldingProxy(t, u.addr)
	transitViaProxy := transitBlock(strings.TrimPrefix(proxy.srv.URL, "http://"), uTok)
	c = s.start(disabled(pkcs11Block), transitViaProxy)
	inMigration(t, s.addr, "transit", keys[0])
	proxy.hold.Store(true)
	if _, err := c.Sys().UnsealWithOptions(&api.UnsealOpts{Key: keys[1], Migrate: true}); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = c.Sys().UnsealWithOptions(&api.UnsealOpts{Key: keys[2], Migrate: true}) }()
	<-proxy.held
	s.stop()
	proxy.hold.Store(false)
	c = s.start(pkcs11Block)
	waitUnsealed(t, c)
	data.check(t, s.addr, "killed while migrating to transit, restarted with the pkcs11 seal")

	s.start(disabled(pkcs11Block), transitViaProxy)
	migrate(t, s.addr, keys[1], keys[2])
	data.check(t, s.addr, "after migrating to transit")
	c = s.start(transitViaProxy)
	waitUnsealed(t, c)
	data.check(t, s.addr, "restarted with the transit seal")

	// transit → Shamir with the recovery shares, which become the unseal
	// shares.
	s.start(disabled(transitViaProxy), shamirBlock)
	inMigration(t, s.addr, "shamir", keys[0])
	migrate(t, s.addr, keys[0], keys[1])
	data.check(t, s.addr, "after migrating back to shamir")
	c = s.start(shamirBlock)
	if st, err := c.Sys().SealStatus(); err != nil || !st.Sealed || st.Type != "shamir" || st.T != 2 || st.N != 3 {
		t.Fatalf("restarted with the shamir seal: %+v, %v; want sealed, 2 of 3", st, err)
	}
	unseal(t, c, keys[2], keys[1])
	data.check(t, s.addr, "restarted with the shamir seal")
}

// TestSealMigrationAmbiguousConfig: a config with two enabled seals, or a
// disabled seal alone, stops the server at start, naming file and line.
func TestSealMigrationAmbiguousConfig(t *testing.T) {
	addr := freeAddr(t)
	db := `storage "bolt" { path = "` + filepath.Join(t.TempDir(), "arca.db") + `" }`
	for _, tc := range []struct{ name, seals, want string }{
		{"two enabled", "seal \"shamir\" {}\n" + transitBlock("127.0.0.1:1", "t"), "only one enabled seal block"},
		{"only disabled", disabled("seal \"shamir\" {}\n"), "needs an enabled seal block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := writeConfig(t, addr, db, "disable_mlock = true", tc.seals)
			r := arca(t, nil, "", "server", "-config="+conf)
			if r.code == 0 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, conf+":") {
				t.Fatalf("exit %d, %s; want a refusal naming %s and saying %q", r.code, r.stderr, conf, tc.want)
			}
		})
	}
}
