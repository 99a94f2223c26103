package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"
)

// bulkLeaseCount is how many leases the bulk revocation tests make: a
// short run in CI, 100,000 with ARCA_LONG_TESTS=1.
func bulkLeaseCount() int {
	if longTests() {
		return 100_000
	}
	return 5_000
}

// boltServer starts a server on a bbolt file, initialised and unsealed;
// it returns the process, a root client and the config path.
func boltServer(t *testing.T) (*proc, *api.Client, *api.InitResponse, string) {
	t.Helper()
	addr := freeAddr(t)
	dbPath := filepath.Join(t.TempDir(), "arca.db")
	conf := writeConfig(t, addr, `storage "bolt" { path = "`+dbPath+`" }`, "disable_mlock = true")
	p := startArca(t, addr, "-config="+conf)
	c := newClient(t, addr, "")
	init := initAndUnseal(t, c)
	return p, c, init, conf
}

// approleLogins enables AppRole with one role and logs in n times (16 at
// a time), returning the tokens.
func approleLogins(t *testing.T, root *api.Client, n int) []string {
	t.Helper()
	if err := root.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("auth/approle/role/bulk", map[string]any{"token_ttl": "1h", "token_policies": "default"}); err != nil {
		t.Fatal(err)
	}
	rid, err := root.Logical().Read("auth/approle/role/bulk/role-id")
	if err != nil {
		t.Fatal(err)
	}
	sid, err := root.Logical().Write("auth/approle/role/bulk/secret-id", nil)
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"role_id": rid.Data["role_id"], "secret_id": sid.Data["secret_id"]}
	tokens := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			anon, _ := root.Clone()
			anon.ClearToken()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || t.Failed() {
					return
				}
				s, err := anon.Logical().Write("auth/approle/login", body)
				if err != nil {
					t.Errorf("login %d: %v", i, err)
					return
				}
				tokens[i] = s.Auth.ClientToken
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return tokens
}

// countLeases counts the leases under prefix (which ends in "/").
func countLeases(t *testing.T, c *api.Client, prefix string) int {
	t.Helper()
	s, err := c.Logical().List("sys/leases/lookup/" + prefix)
	if err != nil {
		t.Fatalf("listing leases under %s: %v", prefix, err)
	}
	if s == nil {
		return 0
	}
	return len(s.Data["keys"].([]any))
}

// TestBulkRevokePrefixOnBolt: revoke-prefix of many AppRole logins on a
// bbolt file revokes every token and drops every lease, in batches.
func TestBulkRevokePrefixOnBolt(t *testing.T) {
	n := bulkLeaseCount()
	_, root, _, _ := boltServer(t)
	start := time.Now()
	tokens := approleLogins(t, root, n)
	t.Logf("%d logins in %v", n, time.Since(start).Round(time.Millisecond))
	if got := countLeases(t, root, "auth/approle/login/"); got != n {
		t.Fatalf("got %d leases, want %d", got, n)
	}
	root.SetClientTimeout(10 * time.Minute) // the figure is reported, not cut off
	start = time.Now()
	if err := root.Sys().RevokePrefix("auth/approle/login"); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("revoke-prefix of %d leases on bbolt: %v (%.0f leases/s)", n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	if got := countLeases(t, root, "auth/approle/login/"); got != 0 {
		t.Fatalf("%d leases left after revoke-prefix", got)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		if _, err := tokenClient(t, root, tokens[i]).Auth().Token().LookupSelf(); statusOf(err) != 403 {
			t.Fatalf("token %d after revoke-prefix: got %v, want 403", i, err)
		}
	}
	// The target holds on an otherwise idle machine of 2 cores; on a
	// shared one the figure above is the one to read.
	if n >= 100_000 && took > 10*time.Second {
		t.Errorf("revoke-prefix of %d leases took %v, want under 10s", n, took)
	}
}

// TestBulkRevokeCLIProgressRacingRenewals: `arca lease revoke -prefix`
// reports progress on stderr while the server revokes, and renewals of
// the same leases racing the revocation neither deadlock it nor bring a
// lease back: afterwards every lease is gone and every token refused.
func TestBulkRevokeCLIProgressRacingRenewals(t *testing.T) {
	const n = 2000
	p, root, init, _ := boltServer(t)
	tokens := approleLogins(t, root, n)
	list, err := root.Logical().List("sys/leases/lookup/auth/approle/login/")
	if err != nil || list == nil {
		t.Fatalf("listing leases: %v", err)
	}
	ids := list.Data["keys"].([]any)
	stop := make(chan struct{})
	var renewed, gone atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i = (i + 7) % len(ids) {
				select {
				case <-stop:
					return
				default:
				}
				_, err := root.Sys().Renew("auth/approle/login/"+ids[i].(string), 3600)
				switch statusOf(err) {
				case 0:
					renewed.Add(1)
				case 400:
					gone.Add(1) // revoked already: the renewal is refused
				default:
					t.Errorf("renewal racing revoke-prefix: %v", err)
					return
				}
			}
		}()
	}
	env := []string{"ARCA_ADDR=" + root.Address(), "ARCA_TOKEN=" + init.RootToken}
	r := arca(t, env, "", "lease", "revoke", "-prefix", "-progress-interval=1ms", "auth/approle/login")
	close(stop)
	wg.Wait()
	r.must(t, 0, "Success! Revoked every lease under: auth/approle/login")
	if !strings.Contains(r.stderr, "revoking leases under auth/approle/login: ") || !strings.Contains(r.stderr, fmt.Sprintf("revoked %d leases under auth/approle/login", n)) {
		t.Fatalf("no progress on stderr:\n%s", r.stderr)
	}
	t.Logf("renewals racing the revocation: %d renewed, %d refused as revoked", renewed.Load(), gone.Load())
	if got := countLeases(t, root, "auth/approle/login/"); got != 0 {
		t.Fatalf("%d leases left (a renewal wrote one back?)", got)
	}
	for i, tok := range tokens {
		if _, err := tokenClient(t, root, tok).Auth().Token().LookupSelf(); statusOf(err) != 403 {
			t.Fatalf("token %d after revoke-prefix: got %v, want 403", i, err)
		}
	}
	if strings.Contains(p.output(), "panic") {
		t.Fatalf("server output:\n%s", p.output())
	}
}

// TestBulkRevokeKilledMidway: a server killed with SIGKILL in the middle
// of a queued revoke-prefix (sync=false) restarts with every lease either
// still there or revoked with its token: revoke-prefix run again reaches
// every token still alive, so none outlives it.
func TestBulkRevokeKilledMidway(t *testing.T) {
	const n = 3000
	p, root, init, conf := boltServer(t)
	tokens := approleLogins(t, root, n)
	if _, err := root.Logical().Write("sys/leases/revoke-prefix/auth/approle/login", map[string]any{"sync": false}); err != nil {
		t.Fatalf("queued revoke-prefix: %v", err)
	}
	// Killed as soon as a token is revoked: its lease is removed only
	// after its batch of tokens is gone, so the kill most likely lands
	// between the two.
	probe := tokenClient(t, root, tokens[n-1])
	if !eventually(60*time.Second, func() bool {
		_, err := probe.Auth().Token().LookupSelf()
		return statusOf(err) == 403
	}) {
		t.Fatal("the queued revocation never revoked a token")
	}
	p.kill()
	startArca(t, p.addr, "-config="+conf)
	unseal(t, root, init.Keys[0])
	leases := countLeases(t, root, "auth/approle/login/")
	alive := 0
	for _, tok := range tokens {
		if _, err := tokenClient(t, root, tok).Auth().Token().LookupSelf(); err == nil {
			alive++
		}
	}
	t.Logf("after the kill: %d leases, %d tokens alive (of %d)", leases, alive, n)
	if alive > leases {
		t.Fatalf("%d tokens alive but only %d leases: a lease went before its token", alive, leases)
	}
	if err := root.Sys().RevokePrefix("auth/approle/login"); err != nil {
		t.Fatal(err)
	}
	for i, tok := range tokens {
		if _, err := tokenClient(t, root, tok).Auth().Token().LookupSelf(); statusOf(err) != 403 {
			t.Fatalf("token %d outlived revoke-prefix after the restart: %v", i, err)
		}
	}
}

// TestBulkRevokeKeepsFailedRevocations: in one revoke-prefix over
// credentials of two databases, one of them unreachable, the reachable
// one's users are dropped and their leases removed, while every lease of
// the unreachable one is kept (its user still there) and goes once the
// database is back.
func TestBulkRevokeKeepsFailedRevocations(t *testing.T) {
	var proxy *tcpProxy
	f := newDBFixtureWith(t, func(host string) string {
		proxy = newTCPProxy(t, host)
		return proxy.addr
	})
	f.write(t, "database/config/direct", map[string]any{
		"plugin_name":    "postgresql-database-plugin",
		"connection_url": f.pg.TemplateURL(),
		"username":       f.admin,
		"password":       f.pass,
		"allowed_roles":  "direct",
	})
	f.write(t, "database/roles/direct", map[string]any{
		"db_name":             "direct",
		"creation_statements": []string{`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`},
		"default_ttl":         "1h",
	})
	const each = 20
	var viaProxy, direct []string
	for range each {
		u, _, _ := f.creds(t, "readonly")
		viaProxy = append(viaProxy, u)
		u, _, _ = f.creds(t, "direct")
		direct = append(direct, u)
	}
	proxy.cut()
	if err := f.root.Sys().RevokePrefix("database/creds"); err == nil {
		t.Fatal("revoke-prefix reported success while a database was down")
	}
	if got := countLeases(t, f.root, "database/creds/readonly/"); got != each {
		t.Fatalf("%d leases of the unreachable database kept, want %d", got, each)
	}
	if got := countLeases(t, f.root, "database/creds/direct/"); got != 0 {
		t.Fatalf("%d leases of the reachable database left, want 0", got)
	}
	for i := range each {
		if !f.roleExists(t, viaProxy[i]) {
			t.Fatalf("user %s of the unreachable database is gone", viaProxy[i])
		}
		if f.roleExists(t, direct[i]) {
			t.Fatalf("user %s outlived its revoked lease", direct[i])
		}
	}
	proxy.restore(t)
	if err := f.root.Sys().RevokePrefix("database/creds"); err != nil {
		t.Fatalf("revoke-prefix once the database is back: %v", err)
	}
	if got := countLeases(t, f.root, "database/creds/readonly/"); got != 0 {
		t.Fatalf("%d leases left once the database is back", got)
	}
	for _, u := range viaProxy {
		if f.roleExists(t, u) {
			t.Fatalf("user %s outlived revoke-prefix", u)
		}
	}
}
