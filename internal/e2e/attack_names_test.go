package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/openbao/openbao/api/v2"
)

// served reports whether a status means the request was carried out.
func served(code int) bool { return code >= 200 && code < 300 }

// TestAttackPolicyNameSpellings: a token allowed sys/policies/acl/* but
// denied sys/policies/acl/polmgr (its own policy) writes other spellings
// of that name, which the policy store folds to "polmgr". Each must be
// refused and polmgr must stay as root wrote it.
func TestAttackPolicyNameSpellings(t *testing.T) {
	p, root := startDev(t, "root")
	const original = `path "secret/data/polmgr" { capabilities = ["read"] }`
	const evil = `path "*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }`
	putPolicy(t, root, "polmgr", `path "sys/policies/acl/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "sys/policies/acl/polmgr" { capabilities = ["deny"] }
path "sys/policy/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "sys/policy/polmgr" { capabilities = ["deny"] }
path "sys/policies/acl/kadmin" { capabilities = ["deny"] }
`)
	putPolicy(t, root, "kadmin", original)
	before, err := root.Sys().GetPolicy("polmgr")
	if err != nil {
		t.Fatal(err)
	}
	tok := childToken(t, root, "polmgr")

	body := jsonText(t, map[string]any{"policy": evil})
	legacy := jsonText(t, map[string]any{"rules": evil})
	for _, tc := range []struct {
		name, method, path, body string
	}{
		{"upper initial", "PUT", "/v1/sys/policies/acl/Polmgr", body},
		{"all upper", "POST", "/v1/sys/policies/acl/POLMGR", body},
		{"leading space", "PUT", "/v1/sys/policies/acl/%20polmgr", body},
		{"trailing space", "PUT", "/v1/sys/policies/acl/polmgr%20", body},
		{"leading tab", "PUT", "/v1/sys/policies/acl/%09polmgr", body},
		{"no-break space", "PUT", "/v1/sys/policies/acl/%C2%A0polmgr", body},
		{"encoded P", "PUT", "/v1/sys/policies/acl/%50olmgr", body},
		{"double-encoded P", "PUT", "/v1/sys/policies/acl/%2550olmgr", body},
		{"trailing slash", "PUT", "/v1/sys/policies/acl/Polmgr/", body},
		{"double slash", "PUT", "/v1/sys/policies/acl//polmgr", body},
		{"dot segment", "PUT", "/v1/sys/policies/acl/x/../Polmgr", body},
		{"encoded slash", "PUT", "/v1/sys/policies/acl%2FPolmgr", body},
		{"legacy upper", "PUT", "/v1/sys/policy/Polmgr", legacy},
		{"legacy space", "PUT", "/v1/sys/policy/%20polmgr", legacy},
		{"delete upper", "DELETE", "/v1/sys/policies/acl/Polmgr", ""},
		{"kelvin sign", "PUT", "/v1/sys/policies/acl/%E2%84%AAadmin", body},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, resp := rawRequest(t, p.addr, tok, tc.method, tc.path, strings.NewReader(tc.body))
			if served(code) {
				t.Errorf("%s %s: got %d %s, want a refusal", tc.method, tc.path, code, resp)
			}
		})
	}
	after, err := root.Sys().GetPolicy("polmgr")
	if err != nil || after != before {
		t.Fatalf("polmgr after the attempts: %q, %v; want it unchanged: %q", after, err, before)
	}
	if k, err := root.Sys().GetPolicy("kadmin"); err != nil || k != original {
		t.Fatalf("kadmin after the attempts: %q, %v; want %q", k, err, original)
	}
	names, err := root.Sys().ListPolicies()
	if err != nil || strings.Join(names, ",") != "default,kadmin,polmgr,root" {
		t.Fatalf("policies after the attempts: %v, %v; want default,kadmin,polmgr,root", names, err)
	}
	// The token still does what it is allowed, in any spelling that
	// folds to an allowed name.
	code, resp := rawRequest(t, p.addr, tok, "PUT", "/v1/sys/policies/acl/Other", strings.NewReader(`{"policy":"path \"secret/data/x\" { capabilities = [\"read\"] }"}`))
	if code != http.StatusNoContent && code != http.StatusOK {
		t.Fatalf("PUT sys/policies/acl/Other with the token: %d %s, want 204", code, resp)
	}
	if text, err := root.Sys().GetPolicy("other"); err != nil || !strings.Contains(text, "secret/data/x") {
		t.Fatalf("policy other: %q, %v", text, err)
	}
}

// TestAttackUserpassNameCase: a deny on auth/userpass/users/bob* holds
// for every spelling the engine folds to bob; a grant on users/bob works
// through users/BOB, the same user.
func TestAttackUserpassNameCase(t *testing.T) {
	p, root := startDev(t, "root")
	if err := root.Sys().EnableAuthWithOptions("userpass", &api.EnableAuthOptions{Type: "userpass"}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("auth/userpass/users/bob", map[string]any{"password": "bob-old-pw", "token_policies": "default"}); err != nil {
		t.Fatal(err)
	}
	putPolicy(t, root, "usermgr", `path "auth/userpass/users/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "auth/userpass/users/bob*" { capabilities = ["deny"] }
`)
	putPolicy(t, root, "bobpw", `path "auth/userpass/users/bob/password" { capabilities = ["create", "update"] }`)
	attacker := childToken(t, root, "usermgr")
	for _, tc := range []struct{ name, method, path, body string }{
		{"upper password", "POST", "/v1/auth/userpass/users/BOB/password", `{"password":"pwned"}`},
		{"mixed password", "PUT", "/v1/auth/userpass/users/Bob/password", `{"password":"pwned"}`},
		{"encoded B", "PUT", "/v1/auth/userpass/users/%42ob/password", `{"password":"pwned"}`},
		{"trailing slash", "PUT", "/v1/auth/userpass/users/BOB/password/", `{"password":"pwned"}`},
		{"upper user", "PUT", "/v1/auth/userpass/users/BOB", `{"password":"pwned","token_policies":"root"}`},
		{"upper policies", "PUT", "/v1/auth/userpass/users/BOB/policies", `{"token_policies":"usermgr"}`},
		{"upper delete", "DELETE", "/v1/auth/userpass/users/BOB", ""},
		{"upper read", "GET", "/v1/auth/userpass/users/BOB", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, resp := rawRequest(t, p.addr, attacker, tc.method, tc.path, strings.NewReader(tc.body))
			if served(code) {
				t.Errorf("%s %s: got %d %s, want a refusal", tc.method, tc.path, code, resp)
			}
		})
	}
	anon := tokenClient(t, root, "")
	anon.ClearToken()
	login := func(pw string) error {
		_, err := anon.Logical().Write("auth/userpass/login/bob", map[string]any{"password": pw})
		return err
	}
	if err := login("pwned"); err == nil {
		t.Fatal("bob logs in with the attacker's password")
	}
	if err := login("bob-old-pw"); err != nil {
		t.Fatalf("bob's own password no longer works: %v", err)
	}
	u, err := root.Logical().Read("auth/userpass/users/bob")
	if err != nil || u == nil || fmtAny(u.Data["token_policies"]) != "[default]" {
		t.Fatalf("bob after the attempts: %+v, %v; want token_policies [default]", u, err)
	}

	// Allowed: a grant on users/bob/password changes bob's password
	// however the caller spells the name.
	helper := childToken(t, root, "bobpw")
	code, resp := rawRequest(t, p.addr, helper, "POST", "/v1/auth/userpass/users/BOB/password", strings.NewReader(`{"password":"bob-new-pw"}`))
	if !served(code) {
		t.Fatalf("POST users/BOB/password with a grant on users/bob/password: %d %s, want 204", code, resp)
	}
	if err := login("bob-new-pw"); err != nil {
		t.Fatalf("bob's new password: %v", err)
	}
	if err := login("bob-old-pw"); err == nil {
		t.Fatal("bob's old password still works after the change")
	}
	list, err := root.Logical().List("auth/userpass/users")
	if err != nil || fmtAny(list.Data["keys"]) != "[bob]" {
		t.Fatalf("users after the change: %+v, %v; want only bob", list, err)
	}
}

// TestAttackAppRoleNameCase: a deny on auth/approle/role/prod/* holds for
// PROD; an allowed role works under any case.
func TestAttackAppRoleNameCase(t *testing.T) {
	p, root := startDev(t, "root")
	if err := root.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"prod", "dev"} {
		if _, err := root.Logical().Write("auth/approle/role/"+role, map[string]any{"token_policies": "default"}); err != nil {
			t.Fatal(err)
		}
	}
	putPolicy(t, root, "rolemgr", `path "auth/approle/role/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "auth/approle/role/prod" { capabilities = ["deny"] }
path "auth/approle/role/prod/*" { capabilities = ["deny"] }
`)
	attacker := childToken(t, root, "rolemgr")
	for _, tc := range []struct{ name, method, path, body string }{
		{"upper secret-id", "POST", "/v1/auth/approle/role/PROD/secret-id", "{}"},
		{"mixed secret-id", "PUT", "/v1/auth/approle/role/Prod/secret-id", "{}"},
		{"encoded P", "PUT", "/v1/auth/approle/role/%50ROD/secret-id", "{}"},
		{"custom secret-id", "PUT", "/v1/auth/approle/role/PROD/custom-secret-id", `{"secret_id":"attacker-chosen-secret"}`},
		{"role-id read", "GET", "/v1/auth/approle/role/PROD/role-id", ""},
		{"role-id set", "PUT", "/v1/auth/approle/role/PROD/role-id", `{"role_id":"attacker-role-id"}`},
		{"role rewrite", "PUT", "/v1/auth/approle/role/PROD", `{"token_policies":"root"}`},
		{"role delete", "DELETE", "/v1/auth/approle/role/PROD", ""},
		{"secret-id list", "LIST", "/v1/auth/approle/role/PROD/secret-id", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, resp := rawRequest(t, p.addr, attacker, tc.method, tc.path, strings.NewReader(tc.body))
			if served(code) {
				t.Errorf("%s %s: got %d %s, want a refusal", tc.method, tc.path, code, resp)
			}
		})
	}
	role, err := root.Logical().Read("auth/approle/role/prod")
	if err != nil || role == nil || fmtAny(role.Data["token_policies"]) != "[default]" {
		t.Fatalf("role prod after the attempts: %+v, %v", role, err)
	}
	if ids, err := root.Logical().List("auth/approle/role/prod/secret-id"); err != nil || ids != nil {
		t.Fatalf("role prod has secret IDs after the attempts: %+v, %v", ids, err)
	}
	code, resp := rawRequest(t, p.addr, attacker, "POST", "/v1/auth/approle/role/DEV/secret-id", strings.NewReader("{}"))
	if !served(code) || !strings.Contains(resp, "secret_id") {
		t.Fatalf("POST role/DEV/secret-id (allowed role): %d %s, want a secret ID", code, resp)
	}
	if ids, err := root.Logical().List("auth/approle/role/dev/secret-id"); err != nil || ids == nil || len(ids.Data["keys"].([]any)) != 1 {
		t.Fatalf("role dev secret IDs: %+v, %v; want one", ids, err)
	}
}
