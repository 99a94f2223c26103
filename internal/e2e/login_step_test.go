package e2e

import (
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/openbao/openbao/api/v2"
)

// writeAllCommits reads how many WriteAll steps the server's storage has
// made (each is one transaction and one fsync on bbolt).
func writeAllCommits(t *testing.T, addr, token string) int {
	t.Helper()
	code, body := rawRequest(t, addr, token, "GET", "/v1/sys/metrics?format=prometheus", nil)
	if code != 200 {
		t.Fatalf("sys/metrics: %d %s", code, body)
	}
	m := regexp.MustCompile(`(?m)^arca_storage_operation_duration_seconds_count\{op="write_all"\} (\d+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no write_all count in sys/metrics:\n%s", body)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// A login on durable storage writes its token and the token's lease in
// one storage step (one fsync), and the lease is really there: revoking
// the login path by prefix revokes every token it issued.
func TestLoginTokenAndLeaseInOneStep(t *testing.T) {
	addr := freeAddr(t)
	conf := writeConfig(t, addr, `storage "bolt" { path = "`+filepath.Join(t.TempDir(), "arca.db")+`" }`, "disable_mlock = true")
	startArca(t, addr, "-config="+conf)
	root := newClient(t, addr, "")
	initAndUnseal(t, root)
	if err := root.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("auth/approle/role/app", map[string]any{"token_ttl": "10m", "token_policies": "default"}); err != nil {
		t.Fatal(err)
	}
	s, err := root.Logical().Read("auth/approle/role/app/role-id")
	if err != nil {
		t.Fatal(err)
	}
	roleID := s.Data["role_id"].(string)
	if s, err = root.Logical().Write("auth/approle/role/app/secret-id", nil); err != nil {
		t.Fatal(err)
	}
	secretID := s.Data["secret_id"].(string)

	const logins = 5
	before := writeAllCommits(t, addr, root.Token())
	var tokens []string
	for range logins {
		s, err := newClient(t, addr, "").Logical().Write("auth/approle/login", map[string]any{"role_id": roleID, "secret_id": secretID})
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, s.Auth.ClientToken)
	}
	if got := writeAllCommits(t, addr, root.Token()) - before; got != logins {
		t.Errorf("%d logins made %d storage steps, want one each", logins, got)
	}

	leases, err := root.Logical().List("sys/leases/lookup/auth/approle/login")
	if err != nil || leases == nil || len(leases.Data["keys"].([]any)) != logins {
		t.Fatalf("leases under the login path: %v %v", leases, err)
	}
	if _, err := root.Logical().Write("sys/leases/revoke-prefix/auth/approle/login", nil); err != nil {
		t.Fatal(err)
	}
	for _, tok := range tokens {
		if _, err := newClient(t, addr, tok).Auth().Token().LookupSelf(); statusOf(err) != 403 {
			t.Errorf("a token of a login revoked by prefix still answers: %v", err)
		}
	}
}
