package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/openbao/openbao/api/v2"
)

// loginLease logs user in through userpass and returns the token and
// the id of its lease.
func loginLease(t *testing.T, root *api.Client, user string) (string, string) {
	t.Helper()
	anon, err := root.Clone()
	if err != nil {
		t.Fatal(err)
	}
	anon.ClearToken()
	s, err := anon.Logical().Write("auth/userpass/login/"+user, map[string]any{"password": user + "-pw"})
	if err != nil {
		t.Fatal(err)
	}
	list, err := root.Logical().List("sys/leases/lookup/auth/userpass/login/" + user)
	if err != nil || list == nil || len(list.Data["keys"].([]any)) != 1 {
		t.Fatalf("leases of %s: %+v, %v", user, list, err)
	}
	return s.Auth.ClientToken, "auth/userpass/login/" + user + "/" + list.Data["keys"].([]any)[0].(string)
}

// TestAttackLeaseIDInBody: a token allowed to revoke or renew only the
// leases under auth/userpass/login/alice/ names alice's lease in the path
// (which the ACL judges) and bob's in the body. The handler must act on
// the path it was authorised for, or refuse: bob's lease must survive.
func TestAttackLeaseIDInBody(t *testing.T) {
	p, root := startDev(t, "root")
	if err := root.Sys().EnableAuthWithOptions("userpass", &api.EnableAuthOptions{Type: "userpass"}); err != nil {
		t.Fatal(err)
	}
	putPolicy(t, root, "alice-leases", `path "sys/leases/revoke/auth/userpass/login/alice/*" { capabilities = ["update"] }
path "sys/leases/renew/auth/userpass/login/alice/*" { capabilities = ["update"] }
path "sys/revoke/auth/userpass/login/alice/*" { capabilities = ["update"] }
path "sys/renew/auth/userpass/login/alice/*" { capabilities = ["update"] }
`)
	tok := childToken(t, root, "alice-leases")
	for _, u := range []string{"alice", "bob1", "bob2", "bob3", "bob4"} {
		if _, err := root.Logical().Write("auth/userpass/users/"+u, map[string]any{"password": u + "-pw", "token_ttl": "1h", "token_max_ttl": "2h"}); err != nil {
			t.Fatal(err)
		}
	}
	_, aliceLease := loginLease(t, root, "alice")
	for _, tc := range []struct{ name, route, victim string }{
		{"revoke", "/v1/sys/leases/revoke/", "bob1"},
		{"legacy revoke", "/v1/sys/revoke/", "bob2"},
		{"renew", "/v1/sys/leases/renew/", "bob3"},
		{"legacy renew", "/v1/sys/renew/", "bob4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bobToken, bobLease := loginLease(t, root, tc.victim)
			path := tc.route + aliceLease
			code, resp := rawRequest(t, p.addr, tok, "PUT", path, strings.NewReader(`{"lease_id":"`+bobLease+`","increment":"1s"}`))
			if _, err := root.Auth().Token().Lookup(bobToken); err != nil {
				t.Fatalf("PUT %s {\"lease_id\":%q} with a token allowed only alice's leases: %d %s; %s's token is gone: %v", path, bobLease, code, resp, tc.victim, err)
			}
			look, err := root.Logical().Write("sys/leases/lookup", map[string]any{"lease_id": bobLease})
			if err != nil {
				t.Fatalf("%s's lease after PUT %s: %v", tc.victim, path, err)
			}
			if ttl := fmtAny(look.Data["ttl"]); len(ttl) < 3 {
				t.Fatalf("PUT %s {\"lease_id\":%q} with a token allowed only alice's leases: %d %s; %s's lease now has ttl %s", path, bobLease, code, resp, tc.victim, ttl)
			}
		})
	}
}

// TestAttackPathSpellings: a deny on a KV path and on a mount holds
// against methods, list flags, case, encodings and odd segments.
func TestAttackPathSpellings(t *testing.T) {
	p, root := startDev(t, "root")
	if _, err := root.KVv2("secret").Put(t.Context(), "app/admin", map[string]any{"pw": "top"}); err != nil {
		t.Fatal(err)
	}
	putPolicy(t, root, "app", `path "secret/data/app/*" { capabilities = ["create", "read", "update", "list"] }
path "secret/data/app/admin" { capabilities = ["deny"] }
path "secret/metadata/app/*" { capabilities = ["list", "read"] }
path "secret/metadata/app/admin" { capabilities = ["deny"] }
path "sys/mounts/*" { capabilities = ["create", "read", "update", "delete"] }
path "sys/mounts/secret" { capabilities = ["deny"] }
path "sys/mounts/secret/*" { capabilities = ["deny"] }
`)
	tok := childToken(t, root, "app")
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/v1/secret/data/app/admin", ""},
		{"HEAD", "/v1/secret/data/app/admin", ""},
		{"GET", "/v1/secret/data/app/admin?list=true", ""},
		{"GET", "/v1/secret/data/app/admin/?list=1", ""},
		{"LIST", "/v1/secret/data/app/admin", ""},
		{"GET", "/v1/secret/data/app/admin/", ""},
		{"GET", "/v1/secret/data/app//admin", ""},
		{"GET", "/v1/secret/data/app/./admin", ""},
		{"GET", "/v1/secret/data/app/x/../admin", ""},
		{"GET", "/v1/secret/data/app/x/%2e%2e/admin", ""},
		{"GET", "/v1/secret/data/app/x/%252e%252e/admin", ""},
		{"GET", "/v1/secret/data/app%2Fadmin", ""},
		{"GET", "/v1/secret//data/app/admin", ""},
		{"GET", "/v1//secret/data/app/admin", ""},
		{"GET", "/v1/Secret/data/app/admin", ""},
		{"GET", "/v1/SECRET/data/app/admin", ""},
		{"GET", "/v1/secret/Data/app/admin", ""},
		{"PUT", "/v1/secret/data/app/admin/", `{"data":{"pw":"pwned"}}`},
		{"PATCH", "/v1/secret/data/app/admin", `{"data":{"pw":"pwned"}}`},
		{"GET", "/v1/secret/metadata/app/admin", ""},
		{"DELETE", "/v1/secret/metadata/app/admin/", ""},
		{"DELETE", "/v1/sys/mounts/secret", ""},
		{"DELETE", "/v1/sys/mounts/secret/", ""},
		{"DELETE", "/v1/sys/mounts//secret", ""},
		{"DELETE", "/v1/sys/mounts/./secret", ""},
		{"DELETE", "/v1/sys/mounts/secret%2F", ""},
		{"POST", "/v1/sys/mounts/secret/tune", `{"max_lease_ttl":"1s"}`},
		{"POST", "/v1/sys/mounts/secret/tune/", `{"max_lease_ttl":"1s"}`},
	} {
		code, resp := rawRequest(t, p.addr, tok, tc.method, tc.path, strings.NewReader(tc.body))
		if served(code) || strings.Contains(resp, "top") {
			t.Errorf("%s %s: got %d %.200s, want a refusal", tc.method, tc.path, code, resp)
		}
	}
	s, err := root.KVv2("secret").Get(t.Context(), "app/admin")
	if err != nil || s.Data["pw"] != "top" || s.VersionMetadata.Version != 1 {
		t.Fatalf("secret/app/admin after the attempts: %+v, %v", s, err)
	}
	mounts, err := root.Sys().ListMounts()
	if err != nil || mounts["secret/"] == nil {
		t.Fatalf("secret/ after the attempts: %v", err)
	}
	// Mount paths are case-sensitive: DELETE sys/mounts/Secret names no
	// mount, and must not reach secret/.
	code, resp := rawRequest(t, p.addr, tok, "DELETE", "/v1/sys/mounts/Secret", nil)
	if mounts, err := root.Sys().ListMounts(); err != nil || mounts["secret/"] == nil {
		t.Fatalf("DELETE sys/mounts/Secret (%d %s) removed secret/: %v", code, resp, err)
	}
}

// TestAttackPrivilegedSysReads: a default-policy token reaches none of
// the sys endpoints that show other tokens or the server's set-up.
func TestAttackPrivilegedSysReads(t *testing.T) {
	p, root := startDev(t, "root")
	tok := childToken(t, root, "default")
	other := childToken(t, root, "default")
	look, err := root.Auth().Token().Lookup(other)
	if err != nil {
		t.Fatal(err)
	}
	accessor := look.Data["accessor"].(string)
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/v1/sys/capabilities", `{"token":"` + other + `","paths":["secret/x"]}`},
		{"POST", "/v1/sys/capabilities-accessor", `{"accessor":"` + accessor + `","paths":["secret/x"]}`},
		{"POST", "/v1/auth/token/lookup", `{"token":"` + other + `"}`},
		{"POST", "/v1/auth/token/lookup-accessor", `{"accessor":"` + accessor + `"}`},
		{"LIST", "/v1/auth/token/accessors", ""},
		{"GET", "/v1/sys/mounts", ""},
		{"GET", "/v1/sys/auth", ""},
		{"GET", "/v1/sys/audit", ""},
		{"LIST", "/v1/sys/policies/acl", ""},
		{"GET", "/v1/sys/policies/acl/root", ""},
		{"GET", "/v1/sys/key-status", ""},
		{"LIST", "/v1/sys/leases/lookup/auth/token/", ""},
		{"PUT", "/v1/sys/wrapping/rewrap", `{"token":"x"}`},
	} {
		code, resp := rawRequest(t, p.addr, tok, tc.method, tc.path, strings.NewReader(tc.body))
		if code != http.StatusForbidden {
			t.Errorf("%s %s with a default-policy token: got %d %.200s, want 403", tc.method, tc.path, code, resp)
		}
	}
}

// TestAttackAliasRoutes: sys/policy/<name> is another spelling of
// sys/policies/acl/<name>, and sys/revoke/, sys/renew/ of
// sys/leases/revoke/, sys/leases/renew/. A token granted sys/* with a
// deny on one spelling must not reach the same thing through the other
// (the canonical path promise: one resource, one spelling, one rule).
func TestAttackAliasRoutes(t *testing.T) {
	p, root := startDev(t, "root")
	if err := root.Sys().EnableAuthWithOptions("userpass", &api.EnableAuthOptions{Type: "userpass"}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("auth/userpass/users/bob", map[string]any{"password": "bob-pw", "token_ttl": "1h"}); err != nil {
		t.Fatal(err)
	}
	const original = `path "secret/data/guarded" { capabilities = ["read"] }`
	putPolicy(t, root, "guarded", original)
	putPolicy(t, root, "sysop", `path "sys/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "sys/policies/acl/guarded" { capabilities = ["deny"] }
path "sys/leases/revoke/*" { capabilities = ["deny"] }
path "sys/leases/renew/*" { capabilities = ["deny"] }
`)
	tok := childToken(t, root, "sysop")
	code, resp := rawRequest(t, p.addr, tok, "PUT", "/v1/sys/policy/guarded", strings.NewReader(jsonText(t, map[string]any{"rules": `path "*" { capabilities = ["sudo", "read"] }`})))
	if text, err := root.Sys().GetPolicy("guarded"); err != nil || text != original {
		t.Errorf("PUT sys/policy/guarded with sys/policies/acl/guarded denied: %d %s; policy now %q, %v", code, resp, text, err)
	}
	bobToken, bobLease := loginLease(t, root, "bob")
	code, resp = rawRequest(t, p.addr, tok, "PUT", "/v1/sys/renew/"+bobLease, strings.NewReader(`{"increment":"1s"}`))
	if served(code) {
		t.Errorf("PUT sys/renew/<lease> with sys/leases/renew/* denied: %d %s, want a refusal", code, resp)
	}
	code, resp = rawRequest(t, p.addr, tok, "PUT", "/v1/sys/revoke/"+bobLease, nil)
	if _, err := root.Auth().Token().Lookup(bobToken); err != nil || served(code) {
		t.Errorf("PUT sys/revoke/<lease> with sys/leases/revoke/* denied: %d %s; bob's token: %v", code, resp, err)
	}
}

// TestAttackCapabilitiesSpelling: sys/capabilities and
// sys/capabilities-accessor answer for the token they name however the
// path is spelled; a trailing slash must not turn them into
// capabilities-self (which would tell an operator that a default-policy
// token holds root).
func TestAttackCapabilitiesSpelling(t *testing.T) {
	p, root := startDev(t, "root")
	tok := childToken(t, root, "default")
	look, err := root.Auth().Token().Lookup(tok)
	if err != nil {
		t.Fatal(err)
	}
	accessor := look.Data["accessor"].(string)
	for _, tc := range []struct{ path, body string }{
		{"/v1/sys/capabilities", `{"token":"` + tok + `","paths":["secret/data/x"]}`},
		{"/v1/sys/capabilities/", `{"token":"` + tok + `","paths":["secret/data/x"]}`},
		{"/v1/sys/capabilities%2F", `{"token":"` + tok + `","paths":["secret/data/x"]}`},
		{"/v1/sys/capabilities-accessor", `{"accessor":"` + accessor + `","paths":["secret/data/x"]}`},
		{"/v1/sys/capabilities-accessor/", `{"accessor":"` + accessor + `","paths":["secret/data/x"]}`},
	} {
		code, resp := rawRequest(t, p.addr, "root", "POST", tc.path, strings.NewReader(tc.body))
		if code != http.StatusOK || !strings.Contains(resp, `"capabilities":["deny"]`) {
			t.Errorf("POST %s naming a default-policy token, as root: %d %.200s, want 200 with [deny]", tc.path, code, resp)
		}
	}
}

// TestAttackCapabilitiesCanonical: capabilities-self answers for a path
// as the ACL would judge a request to it: a spelling that the pipeline
// folds to a denied path is denied here too.
func TestAttackCapabilitiesCanonical(t *testing.T) {
	_, root := startDev(t, "root")
	putPolicy(t, root, "polmgr", `path "sys/policies/acl/*" { capabilities = ["create", "read", "update"] }
path "sys/policies/acl/polmgr" { capabilities = ["deny"] }
path "auth/token/tidy*" { capabilities = ["update"] }
`)
	c := tokenClient(t, root, childToken(t, root, "polmgr"))
	for _, pair := range [][2]string{
		{"sys/policies/acl/Polmgr", "sys/policies/acl/polmgr"},
		{"sys/policies/acl/ polmgr", "sys/policies/acl/polmgr"},
		{"auth/token/tidy/", "auth/token/tidy"},
	} {
		raw, err := c.Sys().CapabilitiesSelf(pair[0])
		if err != nil {
			t.Fatal(err)
		}
		canon, err := c.Sys().CapabilitiesSelf(pair[1])
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(raw, ",") != strings.Join(canon, ",") {
			t.Errorf("capabilities-self: %q has %v, its canonical spelling %q has %v; want the same", pair[0], raw, pair[1], canon)
		}
	}
}

// TestAttackUserpassSubpathParams: a token allowed only
// users/bob/password cannot change bob's policies by adding them to the
// body, nor one allowed only users/bob/policies bob's password.
func TestAttackUserpassSubpathParams(t *testing.T) {
	p, root := startDev(t, "root")
	if err := root.Sys().EnableAuthWithOptions("userpass", &api.EnableAuthOptions{Type: "userpass"}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("auth/userpass/users/bob", map[string]any{"password": "bob-pw", "token_policies": "default"}); err != nil {
		t.Fatal(err)
	}
	putPolicy(t, root, "pw", `path "auth/userpass/users/bob/password" { capabilities = ["create", "update"] }`)
	putPolicy(t, root, "pol", `path "auth/userpass/users/bob/policies" { capabilities = ["create", "update"] }`)
	pw := childToken(t, root, "pw")
	pol := childToken(t, root, "pol")
	code, resp := rawRequest(t, p.addr, pw, "POST", "/v1/auth/userpass/users/bob/password", strings.NewReader(`{"password":"new-pw","token_policies":"root","policies":"root","token_bound_cidrs":"10.0.0.1"}`))
	if !served(code) && code != http.StatusBadRequest {
		t.Fatalf("password change with extra fields: %d %s", code, resp)
	}
	u, err := root.Logical().Read("auth/userpass/users/bob")
	if err != nil || fmtAny(u.Data["token_policies"]) != "[default]" || fmtAny(u.Data["token_bound_cidrs"]) != "[]" {
		t.Fatalf("bob after a password change carrying policies: %+v, %v", u.Data, err)
	}
	code, resp = rawRequest(t, p.addr, pol, "POST", "/v1/auth/userpass/users/bob/policies", strings.NewReader(`{"token_policies":"default","password":"attacker-pw"}`))
	if !served(code) && code != http.StatusBadRequest {
		t.Fatalf("policies change with a password: %d %s", code, resp)
	}
	anon, err := root.Clone()
	if err != nil {
		t.Fatal(err)
	}
	anon.ClearToken()
	if _, err := anon.Logical().Write("auth/userpass/login/bob", map[string]any{"password": "attacker-pw"}); err == nil {
		t.Fatal("a token allowed only users/bob/policies set bob's password")
	}
}

// TestAttackCreateOnlyModifiesExisting: "create" without "update" lets
// a token make new things, never change existing ones (as TestCreate
// WithoutUpdate shows for KV). A token allowed only to create users and
// roles must not reset an existing user's password or policies, nor set
// an existing role's role ID or mint its secret IDs.
func TestAttackCreateOnlyModifiesExisting(t *testing.T) {
	p, root := startDev(t, "root")
	for _, m := range []string{"userpass", "approle"} {
		if err := root.Sys().EnableAuthWithOptions(m, &api.EnableAuthOptions{Type: m}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := root.Logical().Write("auth/userpass/users/bob", map[string]any{"password": "bob-pw", "token_policies": "default"}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("auth/approle/role/prod", map[string]any{"token_policies": "default"}); err != nil {
		t.Fatal(err)
	}
	putPolicy(t, root, "creator", `path "auth/userpass/users/*" { capabilities = ["create"] }
path "auth/approle/role/*" { capabilities = ["create"] }
`)
	tok := childToken(t, root, "creator")
	for _, tc := range []struct{ path, body string }{
		{"/v1/auth/userpass/users/bob", `{"password":"attacker-pw"}`},
		{"/v1/auth/userpass/users/bob/password", `{"password":"attacker-pw"}`},
		{"/v1/auth/userpass/users/bob/policies", `{"token_policies":"creator"}`},
		{"/v1/auth/approle/role/prod", `{"token_policies":"creator"}`},
		{"/v1/auth/approle/role/prod/role-id", `{"role_id":"attacker-known-role-id"}`},
		{"/v1/auth/approle/role/prod/secret-id", `{}`},
		{"/v1/auth/approle/role/prod/custom-secret-id", `{"secret_id":"attacker-known-secret-id"}`},
	} {
		code, resp := rawRequest(t, p.addr, tok, "POST", tc.path, strings.NewReader(tc.body))
		if served(code) {
			t.Errorf("POST %s on an existing entry with only create: %d %.200s, want 403", tc.path, code, resp)
		}
	}
	// Creating a new user is what the grant is for.
	if code, resp := rawRequest(t, p.addr, tok, "POST", "/v1/auth/userpass/users/carol", strings.NewReader(`{"password":"carol-pw"}`)); !served(code) {
		t.Fatalf("creating a new user with create: %d %s", code, resp)
	}
}
