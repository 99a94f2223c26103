package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/openbao/openbao/api/v2"
)

func TestAppRoleLogin(t *testing.T) {
	_, root := startDev(t, "root")
	if err := root.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	if err := root.Sys().PutPolicy("app", appPolicy); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("auth/approle/role/web", map[string]any{
		"token_policies": "app", "token_ttl": "1h", "secret_id_num_uses": 2, "secret_id_ttl": "10m",
	}); err != nil {
		t.Fatal(err)
	}
	rid, err := root.Logical().Read("auth/approle/role/web/role-id")
	if err != nil {
		t.Fatal(err)
	}
	roleID := rid.Data["role_id"].(string)

	// The secret ID is handed out wrapped: the provisioning tool sees only
	// the wrapping token, the machine unwraps it once.
	wrapping, _ := root.Clone()
	wrapping.SetToken("root")
	wrapping.SetWrappingLookupFunc(func(string, string) string { return "2m" })
	w, err := wrapping.Logical().Write("auth/approle/role/web/secret-id", nil)
	if err != nil || w.WrapInfo == nil {
		t.Fatalf("wrapped secret-id: %+v, %v", w, err)
	}
	u, err := root.Logical().Unwrap(w.WrapInfo.Token)
	if err != nil {
		t.Fatal(err)
	}
	secretID := u.Data["secret_id"].(string)

	anon, _ := root.Clone()
	anon.ClearToken()
	login := func(r, s string) (*api.Secret, error) {
		return anon.Logical().Write("auth/approle/login", map[string]any{"role_id": r, "secret_id": s})
	}
	s, err := login(roleID, secretID)
	if err != nil || s.Auth == nil || !strings.Contains(strings.Join(s.Auth.Policies, ","), "app") {
		t.Fatalf("login: %+v, %v", s, err)
	}
	if _, err := tokenClient(t, root, s.Auth.ClientToken).KVv2("secret").Put(t.Context(), "app/x", map[string]any{"a": "b"}); err != nil {
		t.Fatalf("approle token: %v", err)
	}
	if _, err := login(roleID, "wrong"); statusOf(err) != 400 {
		t.Fatalf("wrong secret id: %v", err)
	}
	if _, err := login(roleID, secretID); err != nil {
		t.Fatalf("second use: %v", err)
	}
	if _, err := login(roleID, secretID); statusOf(err) != 400 {
		t.Fatalf("third use of a 2-use secret id: got %v, want 400", err)
	}

	// revoke-prefix on the login path revokes every token it issued.
	if err := root.Sys().RevokePrefix("auth/approle/login"); err != nil {
		t.Fatal(err)
	}
	if _, err := tokenClient(t, root, s.Auth.ClientToken).Auth().Token().LookupSelf(); statusOf(err) != 403 {
		t.Fatalf("approle token after revoke-prefix: got %v, want 403", err)
	}

	// A role bound to another network refuses a login from here.
	if _, err := root.Logical().Write("auth/approle/role/far", map[string]any{"secret_id_bound_cidrs": "10.0.0.0/8"}); err != nil {
		t.Fatal(err)
	}
	farID, _ := root.Logical().Read("auth/approle/role/far/role-id")
	farSecret, err := root.Logical().Write("auth/approle/role/far/secret-id", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := login(farID.Data["role_id"].(string), farSecret.Data["secret_id"].(string)); statusOf(err) != http.StatusBadRequest && statusOf(err) != http.StatusForbidden {
		t.Fatalf("login from outside the bound CIDR: got %v, want a refusal", err)
	}
}
