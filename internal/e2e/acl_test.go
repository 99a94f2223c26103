package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"
)

const appPolicy = `
path "secret/data/app/*" {
  capabilities = ["create", "read", "update", "list"]
}
path "secret/data/app/admin" {
  capabilities = ["deny"]
}
path "secret/metadata/app/*" {
  capabilities = ["list"]
}
path "auth/token/create" {
  capabilities = ["update"]
}
`

// tokenClient returns a client for the same server with another token.
func tokenClient(t *testing.T, c *api.Client, tok string) *api.Client {
	t.Helper()
	cc, err := c.Clone()
	if err != nil {
		t.Fatal(err)
	}
	cc.SetToken(tok)
	return cc
}

func TestPoliciesAndTokens(t *testing.T) {
	p, root := startDev(t, "root")
	ctx := t.Context()
	if err := root.Sys().PutPolicy("app", appPolicy); err != nil {
		t.Fatal(err)
	}
	text, err := root.Sys().GetPolicy("app")
	if err != nil || !strings.Contains(text, "secret/data/app/*") {
		t.Fatalf("read policy: %q, %v", text, err)
	}
	names, err := root.Sys().ListPolicies()
	if err != nil || strings.Join(names, ",") != "app,default,root" {
		t.Fatalf("policies: %v, %v", names, err)
	}
	// A malformed policy: 400 naming the line, and nothing stored.
	err = root.Sys().PutPolicy("broken", "path \"a\" {\n  capabilities = [\"read\", \"fly\"]\n}\n")
	if statusOf(err) != 400 || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "fly") {
		t.Fatalf("malformed policy: got %v, want 400 naming line 2 and the capability", err)
	}
	if _, err := root.Sys().GetPolicy("broken"); err != nil {
		t.Fatalf("reading the refused policy: %v", err)
	}
	if err := root.Sys().PutPolicy("root", `path "*" { capabilities = ["read"] }`); statusOf(err) != 400 {
		t.Fatalf("overwriting root: got %v, want 400", err)
	}

	sec, err := root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"app"}, TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	if sec.Auth == nil || sec.Auth.ClientToken == "" || strings.Join(sec.Auth.Policies, ",") != "app,default" {
		t.Fatalf("token create: %+v", sec.Auth)
	}
	app := tokenClient(t, root, sec.Auth.ClientToken)

	// Allowed by the policy.
	if _, err := app.KVv2("secret").Put(ctx, "app/db", map[string]any{"pw": "x"}); err != nil {
		t.Fatalf("allowed write: %v", err)
	}
	if s, err := app.KVv2("secret").Get(ctx, "app/db"); err != nil || s.Data["pw"] != "x" {
		t.Fatalf("allowed read: %v, %v", s, err)
	}
	// Refused: outside the policy, deny wins, sys paths.
	for name, call := range map[string]func() error{
		"other path":  func() error { _, err := app.KVv2("secret").Get(ctx, "other"); return err },
		"deny wins":   func() error { _, err := app.KVv2("secret").Put(ctx, "app/admin", map[string]any{"a": "b"}); return err },
		"no delete":   func() error { return app.KVv2("secret").Delete(ctx, "app/db") },
		"sys/mounts":  func() error { _, err := app.Sys().ListMounts(); return err },
		"policy read": func() error { _, err := app.Sys().GetPolicy("app"); return err },
		"rotate":      func() error { return app.Sys().Rotate() },
		"accessors":   func() error { _, err := app.Logical().List("auth/token/accessors"); return err },
		"wider child": func() error {
			_, err := app.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"root"}})
			return err
		},
		"other policy child": func() error {
			_, err := app.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"admin"}})
			return err
		},
	} {
		if err := call(); statusOf(err) != http.StatusForbidden {
			t.Errorf("%s: got %v, want 403", name, err)
		}
	}
	// Tricky spellings of the denied path do not reach it.
	for _, path := range []string{"/v1/secret/data/app/x/../admin", "/v1/secret/data/app//admin", "/v1/secret/data/app/%2e%2e/app/admin"} {
		code, body := rawRequest(t, p.addr, sec.Auth.ClientToken, "PUT", path, strings.NewReader(`{"data":{"a":"b"}}`))
		if code == 200 || code == 204 {
			t.Errorf("PUT %s with the app token: %d %s", path, code, body)
		}
	}
	if _, err := root.KVv2("secret").Get(ctx, "app/admin"); err == nil {
		t.Fatal("something was written at the denied path")
	}

	// The default policy lets a token look itself up and see its
	// capabilities.
	self, err := app.Auth().Token().LookupSelf()
	if err != nil || self.Data["accessor"] != sec.Auth.Accessor {
		t.Fatalf("lookup-self: %v, %v", self, err)
	}
	caps, err := app.Sys().CapabilitiesSelf("secret/data/app/x")
	if err != nil || strings.Join(caps, ",") != "create,read,update,list" {
		t.Fatalf("capabilities-self: %v, %v", caps, err)
	}
	caps, err = root.Sys().Capabilities(sec.Auth.ClientToken, "secret/data/app/admin")
	if err != nil || strings.Join(caps, ",") != "deny" {
		t.Fatalf("capabilities: %v, %v", caps, err)
	}

	// A child of the app token dies with it.
	child, err := app.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"app"}})
	if err != nil {
		t.Fatal(err)
	}
	childClient := tokenClient(t, root, child.Auth.ClientToken)
	if _, err := childClient.Auth().Token().LookupSelf(); err != nil {
		t.Fatal(err)
	}
	if err := root.Auth().Token().RevokeTree(sec.Auth.ClientToken); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*api.Client{"parent": app, "child": childClient} {
		if _, err := c.Auth().Token().LookupSelf(); statusOf(err) != 403 {
			t.Errorf("%s after revoking the parent: got %v, want 403", name, err)
		}
	}
}

func TestTokenLimits(t *testing.T) {
	_, root := startDev(t, "root")

	// num_uses: the third use is refused.
	sec, err := root.Auth().Token().Create(&api.TokenCreateRequest{NumUses: 2})
	if err != nil {
		t.Fatal(err)
	}
	c := tokenClient(t, root, sec.Auth.ClientToken)
	for i := range 2 {
		if _, err := c.Auth().Token().LookupSelf(); err != nil {
			t.Fatalf("use %d: %v", i+1, err)
		}
	}
	if _, err := c.Auth().Token().LookupSelf(); statusOf(err) != 403 {
		t.Fatalf("third use: got %v, want 403", err)
	}

	// Renewal, lookup and revocation by accessor.
	sec, err = root.Auth().Token().Create(&api.TokenCreateRequest{TTL: "10m", ExplicitMaxTTL: "20m"})
	if err != nil {
		t.Fatal(err)
	}
	c = tokenClient(t, root, sec.Auth.ClientToken)
	r, err := c.Auth().Token().RenewSelf(3600)
	if err != nil || r.Auth.LeaseDuration > 1200 || r.Auth.LeaseDuration < 1190 {
		t.Fatalf("renew capped at explicit max: %+v, %v", r, err)
	}
	la, err := root.Auth().Token().LookupAccessor(sec.Auth.Accessor)
	if err != nil || la.Data["id"] != "" || la.Data["accessor"] != sec.Auth.Accessor {
		t.Fatalf("lookup-accessor: %+v, %v", la, err)
	}
	if err := root.Auth().Token().RevokeAccessor(sec.Auth.Accessor); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Auth().Token().LookupSelf(); statusOf(err) != 403 {
		t.Fatalf("after revoke-accessor: got %v, want 403", err)
	}
	if _, err := root.Logical().List("auth/token/accessors"); err != nil {
		t.Fatalf("accessors as root: %v", err)
	}

	// A short TTL expires: the token is refused once it has.
	sec, err = root.Auth().Token().Create(&api.TokenCreateRequest{TTL: "1s"})
	if err != nil {
		t.Fatal(err)
	}
	c = tokenClient(t, root, sec.Auth.ClientToken)
	if !eventually(10*time.Second, func() bool {
		_, err = c.Auth().Token().LookupSelf()
		return statusOf(err) == 403
	}) {
		t.Fatalf("token with ttl=1s still valid after 10s: %v", err)
	}
}

func TestHugeBodyRefused(t *testing.T) {
	p, _ := startDev(t, "root")
	big := bytes.Repeat([]byte("a"), 33<<20)
	code, body := rawRequest(t, p.addr, "root", "PUT", "/v1/secret/data/big", bytes.NewReader(big))
	if code != http.StatusRequestEntityTooLarge {
		t.Fatalf("33 MiB body: got %d %s, want 413", code, body)
	}
}

// TestCreateWithoutUpdate: a policy with "create" but not "update" lets a
// token write a new secret once and not overwrite it, as in Vault's KV.
func TestCreateWithoutUpdate(t *testing.T) {
	_, root := startDev(t, "root")
	if err := root.Sys().PutPolicy("once", `path "secret/data/drop/*" { capabilities = ["create"] }`); err != nil {
		t.Fatal(err)
	}
	sec, err := root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"once"}})
	if err != nil {
		t.Fatal(err)
	}
	c := tokenClient(t, root, sec.Auth.ClientToken)
	if _, err := c.KVv2("secret").Put(t.Context(), "drop/x", map[string]any{"v": "1"}); err != nil {
		t.Fatalf("first write (create): %v", err)
	}
	if _, err := c.KVv2("secret").Put(t.Context(), "drop/x", map[string]any{"v": "2"}); statusOf(err) != 403 {
		t.Fatalf("overwrite without update: got %v, want 403", err)
	}
}

func TestBatchTokenThroughAPI(t *testing.T) {
	_, root := startDev(t, "root")
	if err := root.Sys().PutPolicy("app", appPolicy); err != nil {
		t.Fatal(err)
	}
	sec, err := root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"app"}, Type: "batch", TTL: "10m"})
	if err != nil || !strings.HasPrefix(sec.Auth.ClientToken, "b.") || sec.Auth.Renewable {
		t.Fatalf("batch create: %+v, %v", sec, err)
	}
	b := tokenClient(t, root, sec.Auth.ClientToken)
	if _, err := b.KVv2("secret").Put(t.Context(), "app/x", map[string]any{"a": "b"}); err != nil {
		t.Fatalf("batch token write: %v", err)
	}
	if _, err := b.KVv2("secret").Get(t.Context(), "other"); statusOf(err) != 403 {
		t.Fatalf("batch token outside policy: %v", err)
	}
	look, err := b.Auth().Token().LookupSelf()
	if err != nil || look.Data["type"] != "batch" {
		t.Fatalf("lookup-self: %+v, %v", look, err)
	}
	if _, err := b.Auth().Token().RenewSelf(60); statusOf(err) != 400 {
		t.Fatalf("renew batch: got %v, want 400", err)
	}
	if _, err := b.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"app"}}); statusOf(err) != 400 {
		t.Fatalf("child of batch: got %v, want 400", err)
	}
	if _, err := b.Logical().Write("cubbyhole/x", map[string]any{"a": "b"}); statusOf(err) != 400 {
		t.Fatalf("batch cubbyhole: got %v, want 400", err)
	}
}

func TestBatchTokenCannotRevokeItself(t *testing.T) {
	_, root := startDev(t, "root")
	sec, err := root.Auth().Token().Create(&api.TokenCreateRequest{Type: "batch"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tokenClient(t, root, sec.Auth.ClientToken).Auth().Token().RevokeSelf(""); statusOf(err) != 400 {
		t.Fatalf("revoke-self of a batch token: got %v, want 400", err)
	}
}

func TestTokenRoles(t *testing.T) {
	_, root := startDev(t, "root")
	for _, name := range []string{"app", "ci"} {
		if err := root.Sys().PutPolicy(name, `path "secret/data/`+name+`/*" { capabilities = ["read"] }`); err != nil {
			t.Fatal(err)
		}
	}
	if err := root.Sys().PutPolicy("issuer", `path "auth/token/create/ci-role" { capabilities = ["update"] }`); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("auth/token/roles/ci-role", map[string]any{
		"allowed_policies": []string{"ci"}, "orphan": true, "token_period": "1h", "token_type": "service",
	}); err != nil {
		t.Fatal(err)
	}
	role, err := root.Logical().Read("auth/token/roles/ci-role")
	if err != nil || role.Data["orphan"] != true {
		t.Fatalf("read role: %+v, %v", role, err)
	}
	list, err := root.Logical().List("auth/token/roles")
	if err != nil || len(list.Data["keys"].([]any)) != 1 {
		t.Fatalf("list roles: %+v, %v", list, err)
	}
	iss, err := root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"issuer"}})
	if err != nil {
		t.Fatal(err)
	}
	issuer := tokenClient(t, root, iss.Auth.ClientToken)
	// The issuer holds neither "ci" nor sudo, yet the role lets it make a
	// periodic orphan with the ci policy ...
	ci, err := issuer.Auth().Token().CreateWithRole(&api.TokenCreateRequest{}, "ci-role")
	if err != nil || !ci.Auth.Orphan || strings.Join(ci.Auth.Policies, ",") != "ci,default" {
		t.Fatalf("create with role: %+v, %v", ci, err)
	}
	look, err := root.Auth().Token().Lookup(ci.Auth.ClientToken)
	if err != nil || look.Data["period"].(json.Number).String() != "3600" || look.Data["path"] != "auth/token/create/ci-role" {
		t.Fatalf("role token lookup: %+v, %v", look.Data, err)
	}
	// ... but nothing the role does not allow, and no other role.
	if _, err := issuer.Auth().Token().CreateWithRole(&api.TokenCreateRequest{Policies: []string{"app"}}, "ci-role"); statusOf(err) != 403 {
		t.Fatalf("policy outside the role: got %v, want 403", err)
	}
	if _, err := issuer.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"ci"}}); statusOf(err) != 403 {
		t.Fatalf("plain create by issuer: got %v, want 403", err)
	}
	if _, err := root.Logical().Write("auth/token/roles/bad", map[string]any{"allowed_policies": "root"}); statusOf(err) != 400 {
		t.Fatalf("role allowing root: got %v, want 400", err)
	}
}
