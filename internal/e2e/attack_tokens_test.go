package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/openbao/openbao/api/v2"
)

// TestAttackTokenRoleWidensPolicies: a token allowed only
// auth/token/create/* asks a role without allowed_policies for policies
// it does not hold. It gets only a subset of its own.
func TestAttackTokenRoleWidensPolicies(t *testing.T) {
	p, root := startDev(t, "root")
	putPolicy(t, root, "admin", `path "*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }`)
	putPolicy(t, root, "creator", `path "auth/token/create/*" { capabilities = ["create", "update"] }`)
	putPolicy(t, root, "reader", `path "secret/data/ci/*" { capabilities = ["read"] }`)
	if _, err := root.Logical().Write("auth/token/roles/ci", map[string]any{"orphan": false}); err != nil {
		t.Fatal(err)
	}
	tok := childToken(t, root, "creator", "reader")
	// want is the status the attempt must get; 200 means it is served
	// but must not yield admin (an unknown parameter is ignored, as in
	// Vault).
	for _, tc := range []struct {
		name, path, body string
		want             int
	}{
		{"admin", "/v1/auth/token/create/ci", `{"policies":["admin"]}`, 403},
		{"admin among held", "/v1/auth/token/create/ci", `{"policies":["reader","admin"]}`, 403},
		{"comma string", "/v1/auth/token/create/ci", `{"policies":"reader,admin"}`, 403},
		{"upper case", "/v1/auth/token/create/ci", `{"policies":["Admin"]}`, 403},
		{"spaces", "/v1/auth/token/create/ci", `{"policies":[" admin "]}`, 403},
		{"root", "/v1/auth/token/create/ci", `{"policies":["root"]}`, 403},
		{"trailing slash", "/v1/auth/token/create/ci/", `{"policies":["admin"]}`, 403},
		{"role name case", "/v1/auth/token/create/CI", `{"policies":["admin"]}`, 400},
		{"policies as token_policies", "/v1/auth/token/create/ci", `{"token_policies":["admin"]}`, 200},
		{"plain create", "/v1/auth/token/create", `{"policies":["admin"]}`, 403},
		{"orphan create", "/v1/auth/token/create-orphan", `{"policies":["admin"]}`, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, resp := rawRequest(t, p.addr, tok, "POST", tc.path, strings.NewReader(tc.body))
			if code != tc.want {
				t.Fatalf("POST %s %s: got %d %s, want %d", tc.path, tc.body, code, resp, tc.want)
			}
			if served(code) {
				// Served without admin? Then the token it made must not
				// hold it either.
				var out struct {
					Auth struct {
						ClientToken string   `json:"client_token"`
						Policies    []string `json:"policies"`
					} `json:"auth"`
				}
				if err := json.Unmarshal([]byte(resp), &out); err != nil {
					t.Fatal(err)
				}
				look, err := root.Auth().Token().Lookup(out.Auth.ClientToken)
				if err != nil {
					t.Fatal(err)
				}
				if got := fmtAny(look.Data["policies"]); strings.Contains(got, "admin") || strings.Contains(got, "root") {
					t.Fatalf("POST %s %s made a token with policies %s", tc.path, tc.body, got)
				}
			}
		})
	}

	// Within what it holds, the role serves it.
	c := tokenClient(t, root, tok)
	s, err := c.Auth().Token().CreateWithRole(&api.TokenCreateRequest{Policies: []string{"reader"}}, "ci")
	if err != nil || strings.Join(s.Auth.Policies, ",") != "default,reader" {
		t.Fatalf("role create with a held policy: %+v, %v; want default,reader", s, err)
	}
	s, err = c.Auth().Token().CreateWithRole(&api.TokenCreateRequest{}, "ci")
	if err != nil {
		t.Fatalf("role create asking for nothing: %v", err)
	}
	if got := strings.Join(s.Auth.Policies, ","); strings.Contains(got, "admin") {
		t.Fatalf("role create asking for nothing: policies %s", got)
	}
}

// TestAttackTrailingSlashSudo: sudo-protected paths spelled with a
// trailing slash (or more) still need sudo, and are served with it.
func TestAttackTrailingSlashSudo(t *testing.T) {
	p, root := startDev(t, "root")
	const grants = `path "auth/token/revoke-orphan*" { capabilities = ["update"%[1]s] }
path "auth/token/tidy*" { capabilities = ["update"%[1]s] }
path "auth/token/accessors*" { capabilities = ["list", "read"%[1]s] }
path "sys/leases/*" { capabilities = ["update", "list", "read"%[1]s] }
path "sys/rotate*" { capabilities = ["update"%[1]s] }
path "sys/audit*" { capabilities = ["read", "list"%[1]s] }
`
	putPolicy(t, root, "nosudo", strings.ReplaceAll(grants, "%[1]s", ""))
	putPolicy(t, root, "withsudo", strings.ReplaceAll(grants, "%[1]s", `, "sudo"`))
	victim := childToken(t, root)
	calls := []struct{ name, method, path, body string }{
		{"revoke-orphan/", "POST", "/v1/auth/token/revoke-orphan/", `{"token":"` + victim + `"}`},
		{"revoke-orphan//", "POST", "/v1/auth/token/revoke-orphan//", `{"token":"` + victim + `"}`},
		{"revoke-orphan/%2F", "POST", "/v1/auth/token/revoke-orphan/%2F", `{"token":"` + victim + `"}`},
		{"tidy/", "POST", "/v1/auth/token/tidy/", ""},
		{"tidy", "POST", "/v1/auth/token/tidy", ""},
		{"accessors LIST", "LIST", "/v1/auth/token/accessors", ""},
		{"accessors ?list=true", "GET", "/v1/auth/token/accessors?list=true", ""},
		{"accessors ?list=1", "GET", "/v1/auth/token/accessors/?list=1", ""},
		{"accessors HEAD list", "HEAD", "/v1/auth/token/accessors?list=true", ""},
		{"revoke-prefix/x/", "POST", "/v1/sys/leases/revoke-prefix/x/", ""},
		{"revoke-force/x/", "POST", "/v1/sys/leases/revoke-force/x/", ""},
		{"lookup/x/ LIST", "LIST", "/v1/sys/leases/lookup/x/", ""},
		{"rotate/", "POST", "/v1/sys/rotate/", ""},
		{"audit/ GET", "GET", "/v1/sys/audit/", ""},
	}
	nosudo := childToken(t, root, "nosudo")
	for _, tc := range calls {
		code, resp := rawRequest(t, p.addr, nosudo, tc.method, tc.path, strings.NewReader(tc.body))
		if code != http.StatusForbidden {
			t.Errorf("without sudo, %s %s: got %d %s, want 403", tc.method, tc.path, code, resp)
		}
	}
	if _, err := root.Auth().Token().Lookup(victim); err != nil {
		t.Fatalf("the victim token after the refused revoke-orphan: %v", err)
	}
	withsudo := childToken(t, root, "withsudo")
	for _, tc := range calls {
		code, resp := rawRequest(t, p.addr, withsudo, tc.method, tc.path, strings.NewReader(tc.body))
		// Served: past the ACL; a lease lookup of nothing is a 404 and a
		// second revoke of the same token a 400, both from the handler.
		if code == http.StatusForbidden || code >= 500 || code == http.StatusMethodNotAllowed {
			t.Errorf("with sudo, %s %s: got %d %s, want it served", tc.method, tc.path, code, resp)
		}
	}
	if _, err := root.Auth().Token().Lookup(victim); statusOf(err) != http.StatusForbidden && statusOf(err) != http.StatusBadRequest {
		t.Fatalf("the victim token after revoke-orphan with sudo: %v, want it gone", err)
	}
}
