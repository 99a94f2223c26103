package e2e

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"
)

// bulkLeaseCount is how many leases the bulk revocation tests make: a
// short run in CI, 100,000 with ARCA_LONG_TESTS=1.
func bulkLeaseCount() int {
	if os.Getenv("ARCA_LONG_TESTS") == "1" {
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
	if n >= 100_000 && took > 10*time.Second {
		t.Fatalf("revoke-prefix of %d leases took %v, want under 10s", n, took)
	}
}
