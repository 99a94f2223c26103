package server_test

import (
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// spelling returns a random spelling of name: case changes, and with
// spaces, surrounding spaces; escaped for a URL path.
func spelling(r *rand.Rand, name string, spaces bool) string {
	var b strings.Builder
	if spaces && r.IntN(3) == 0 {
		b.WriteString(" ")
	}
	for _, ch := range name {
		if r.IntN(2) == 0 {
			b.WriteString(strings.ToUpper(string(ch)))
		} else {
			b.WriteRune(ch)
		}
	}
	if spaces && r.IntN(3) == 0 {
		b.WriteString("  ")
	}
	return url.PathEscape(b.String())
}

func trailing(r *rand.Rand) string { return strings.Repeat("/", r.IntN(3)) }

// TestDeniedNamesStayDeniedInEverySpelling performs issue 12's attack
// through the HTTP API: a token allowed a family of names but denied one
// writes that one under other spellings. Every attempt is refused and
// the target is unchanged.
func TestDeniedNamesStayDeniedInEverySpelling(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	root := ts.root
	ts.must(http.StatusNoContent, "POST", "sys/auth/userpass", root, map[string]any{"type": "userpass"})
	ts.must(http.StatusNoContent, "POST", "sys/auth/approle", root, map[string]any{"type": "approle"})
	ts.must(http.StatusNoContent, "POST", "auth/userpass/users/bob", root, map[string]any{"password": "bob-password"})
	ts.must(http.StatusNoContent, "POST", "auth/approle/role/prod", root, map[string]any{"token_policies": "default"})
	const original = `path "sys/policies/acl/*" { capabilities = ["create", "read", "update"] }
path "sys/policies/acl/polmgr" { capabilities = ["deny"] }
path "sys/policy/*" { capabilities = ["create", "read", "update"] }
path "sys/policy/polmgr" { capabilities = ["deny"] }
path "auth/userpass/users/*" { capabilities = ["create", "update"] }
path "auth/userpass/users/bob*" { capabilities = ["deny"] }
path "auth/approle/role/*" { capabilities = ["create", "update", "read"] }
path "auth/approle/role/prod" { capabilities = ["deny"] }
path "auth/approle/role/prod/*" { capabilities = ["deny"] }
`
	ts.policy("polmgr", original)
	mgr := ts.token("polmgr")
	escalate := map[string]any{"policy": `path "*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }`}

	// The token can do what it is allowed: the family works.
	ts.must(http.StatusNoContent, "PUT", "sys/policies/acl/Other", mgr, escalate)
	ts.must(http.StatusNoContent, "PUT", "auth/userpass/users/alice", mgr, map[string]any{"password": "alice-password"})
	ts.must(http.StatusNoContent, "POST", "auth/approle/role/Dev", mgr, map[string]any{"token_policies": "default"})
	ts.must(http.StatusOK, "POST", "auth/approle/role/DEV/secret-id", mgr, nil)

	r := rand.New(rand.NewPCG(5, 6))
	for range 60 {
		for _, a := range []struct {
			method, path string
			body         map[string]any
		}{
			{"PUT", "sys/policies/acl/" + spelling(r, "polmgr", true) + trailing(r), escalate},
			{"POST", "sys/policy/" + spelling(r, "polmgr", true) + trailing(r), map[string]any{"rules": escalate["policy"]}},
			{"PUT", "auth/userpass/users/" + spelling(r, "bob", true) + "/password" + trailing(r), map[string]any{"password": "stolen"}},
			{"PUT", "auth/userpass/users/" + spelling(r, "bob", false) + trailing(r), map[string]any{"password": "stolen", "token_policies": "root"}},
			{"POST", "auth/approle/role/" + spelling(r, "prod", false) + "/secret-id" + trailing(r), nil},
			{"POST", "auth/approle/role/" + spelling(r, "prod", false) + trailing(r), map[string]any{"token_policies": "polmgr"}},
		} {
			got := ts.do(a.method, a.path, mgr, a.body)
			if got.status < 400 {
				t.Errorf("%s %s with the token denied that name: status %d, want a refusal", a.method, a.path, got.status)
			}
		}
	}

	// Nothing changed.
	text := str(ts.must(http.StatusOK, "GET", "sys/policies/acl/polmgr", root, nil).data(), "policy")
	if text != original {
		t.Errorf("the denied policy was rewritten: %q", text)
	}
	ts.must(http.StatusOK, "POST", "auth/userpass/login/bob", "", map[string]any{"password": "bob-password"})
	if a := ts.do("POST", "auth/userpass/login/bob", "", map[string]any{"password": "stolen"}); a.status == http.StatusOK {
		t.Error("bob's password was changed by a token denied bob")
	}
	if a := ts.do("LIST", "auth/approle/role/prod/secret-id", root, nil); a.status == http.StatusOK {
		t.Errorf("the denied role has secret IDs: %s", a.raw)
	}
	role := ts.must(http.StatusOK, "GET", "auth/approle/role/prod", root, nil).data()
	if p, _ := role["token_policies"].([]any); len(p) != 1 || p[0] != "default" {
		t.Errorf("the denied role was changed: token_policies %v", role["token_policies"])
	}
}

// TestEngineGetsTheMountRelativePath: the engine must be handed the path
// after its mount and nothing shorter. A path whose first segment under
// the mount starts with the mount's own name ("secret/secretdata/admin")
// is a different path from "secret/data/admin", and a policy that allows
// the first must not read the second.
func TestEngineGetsTheMountRelativePath(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	ts.must(http.StatusOK, "PUT", "secret/data/admin", ts.root, map[string]any{"data": map[string]any{"password": "top"}})
	ts.must(http.StatusNoContent, "POST", "sys/mounts/kv", ts.root, map[string]any{"type": "kv", "options": map[string]any{"version": "1"}})
	ts.must(http.StatusNoContent, "PUT", "kv/admin", ts.root, map[string]any{"password": "top"})
	ts.policy("prefixed", `path "secret/secret*" { capabilities = ["read"] }
path "kv/kv*" { capabilities = ["read"] }
path "secret/data/admin" { capabilities = ["deny"] }
path "kv/admin" { capabilities = ["deny"] }
`)
	tok := ts.token("prefixed")
	for _, path := range []string{"secret/secretdata/admin", "kv/kvadmin"} {
		a := ts.do("GET", path, tok, nil)
		if strings.Contains(string(a.raw), "top") {
			t.Errorf("GET %s with a token denied the admin secret: status %d, body %s", path, a.status, a.raw)
		}
	}
}

// TestSpacesDoNotMakeEmptySegments: a policy name of spaces before a
// slash is folded to nothing; the path must not become
// "sys/policies/acl//polmgr", which the deny on sys/policies/acl/polmgr
// does not match and the handler serves as polmgr.
func TestSpacesDoNotMakeEmptySegments(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	const original = `path "sys/policies/acl/*" { capabilities = ["create", "read", "update"] }
path "sys/policies/acl/polmgr" { capabilities = ["deny"] }
path "sys/policy/*" { capabilities = ["create", "read", "update"] }
path "sys/policy/polmgr" { capabilities = ["deny"] }
`
	ts.policy("polmgr", original)
	mgr := ts.token("polmgr")
	escalate := `path "*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }`
	for _, a := range []struct{ path, field string }{
		{"sys/policies/acl/%20/polmgr", "policy"},
		{"sys/policies/acl/%20%20/PolMgr", "policy"},
		{"sys/policy/%20/polmgr", "rules"},
	} {
		got := ts.do("PUT", a.path, mgr, map[string]any{a.field: escalate})
		if got.status < 400 {
			t.Errorf("PUT %s with the token denied polmgr: status %d, want a refusal", a.path, got.status)
		}
	}
	if text := str(ts.must(http.StatusOK, "GET", "sys/policies/acl/polmgr", ts.root, nil).data(), "policy"); text != original {
		t.Errorf("the denied policy was rewritten to %q", text)
	}
}
