package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"
)

func enableUserpass(t *testing.T, c *api.Client, ttl string) {
	t.Helper()
	if err := c.Sys().EnableAuthWithOptions("userpass", &api.EnableAuthOptions{Type: "userpass"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("auth/userpass/users/bob", map[string]any{"password": "pw", "token_ttl": ttl}); err != nil {
		t.Fatal(err)
	}
}

func loginBob(t *testing.T, c *api.Client) *api.Secret {
	t.Helper()
	anon, _ := c.Clone()
	anon.ClearToken()
	s, err := anon.Logical().Write("auth/userpass/login/bob", map[string]any{"password": "pw"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLoginLeases(t *testing.T) {
	_, root := startDev(t, "root")
	enableUserpass(t, root, "1h")
	var tokens []*api.Secret
	for range 3 {
		tokens = append(tokens, loginBob(t, root))
	}
	list, err := root.Logical().List("sys/leases/lookup/auth/userpass/login/bob")
	if err != nil || list == nil || len(list.Data["keys"].([]any)) != 3 {
		t.Fatalf("list leases: %+v, %v", list, err)
	}
	id := "auth/userpass/login/bob/" + list.Data["keys"].([]any)[0].(string)
	l, err := root.Sys().Lookup(id)
	if err != nil || l.Data["renewable"] != true {
		t.Fatalf("lookup: %+v, %v", l, err)
	}
	if _, err := root.Sys().Renew(id, 1800); err != nil {
		t.Fatalf("renew: %v", err)
	}
	// The emergency lever: every token that login issued, in one call.
	if err := root.Sys().RevokePrefix("auth/userpass/login"); err != nil {
		t.Fatal(err)
	}
	for i, s := range tokens {
		if _, err := tokenClient(t, root, s.Auth.ClientToken).Auth().Token().LookupSelf(); statusOf(err) != 403 {
			t.Errorf("token %d after revoke-prefix: got %v, want 403", i, err)
		}
	}
	if _, err := root.Sys().Lookup(id); statusOf(err) != 400 {
		t.Fatalf("lookup of a revoked lease: %v", err)
	}
	// Revoking one lease revokes its token; revoking a token drops its lease.
	a, b := loginBob(t, root), loginBob(t, root)
	list, _ = root.Logical().List("sys/leases/lookup/auth/userpass/login/bob")
	if len(list.Data["keys"].([]any)) != 2 {
		t.Fatalf("leases: %v", list.Data)
	}
	if err := root.Auth().Token().RevokeTree(a.Auth.ClientToken); err != nil {
		t.Fatal(err)
	}
	list, _ = root.Logical().List("sys/leases/lookup/auth/userpass/login/bob")
	if len(list.Data["keys"].([]any)) != 1 {
		t.Fatalf("revoking a token left its lease: %v", list.Data)
	}
	left := "auth/userpass/login/bob/" + list.Data["keys"].([]any)[0].(string)
	if err := root.Sys().Revoke(left); err != nil {
		t.Fatal(err)
	}
	if _, err := tokenClient(t, root, b.Auth.ClientToken).Auth().Token().LookupSelf(); statusOf(err) != 403 {
		t.Fatalf("token after its lease was revoked: %v", err)
	}
	// revoke-prefix needs sudo.
	plain, err := root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"default"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tokenClient(t, root, plain.Auth.ClientToken).Sys().RevokePrefix("auth"); statusOf(err) != 403 {
		t.Fatalf("revoke-prefix without sudo: %v", err)
	}
}

// TestLeasesSurviveRestartAndExpire: a lease written before kill -9 is
// still there after a restart, and still expires on time.
func TestLeasesSurviveRestartAndExpire(t *testing.T) {
	addr := freeAddr(t)
	dbPath := filepath.Join(t.TempDir(), "arca.db")
	conf := writeConfig(t, addr, `storage "bolt" { path = "`+dbPath+`" }`, "disable_mlock = true")
	p := startArca(t, addr, "-config="+conf)
	c := newClient(t, addr, "")
	init := initAndUnseal(t, c)
	enableUserpass(t, c, "4s")
	s := loginBob(t, c)
	p.kill()
	startArca(t, addr, "-config="+conf)
	unseal(t, c, init.Keys[0])
	list, err := c.Logical().List("sys/leases/lookup/auth/userpass/login/bob")
	if err != nil || list == nil || len(list.Data["keys"].([]any)) != 1 {
		t.Fatalf("lease after restart: %+v, %v", list, err)
	}
	// The expiration manager of the restarted server revokes it.
	if !eventually(20*time.Second, func() bool {
		list, err = c.Logical().List("sys/leases/lookup/auth/userpass/login/bob")
		return err == nil && list == nil
	}) {
		t.Fatalf("lease not expired 20s after a 4s TTL: %+v, %v", list, err)
	}
	if _, err := tokenClient(t, c, s.Auth.ClientToken).Auth().Token().LookupSelf(); statusOf(err) != 403 {
		t.Fatalf("token after its lease expired: %v", err)
	}
}
