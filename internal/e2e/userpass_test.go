package e2e

import (
	"strings"
	"testing"

	"github.com/openbao/openbao/api/v2"
)

func TestUserpassLogin(t *testing.T) {
	_, root := startDev(t, "root")
	if err := root.Sys().EnableAuthWithOptions("userpass", &api.EnableAuthOptions{Type: "userpass"}); err != nil {
		t.Fatal(err)
	}
	auths, err := root.Sys().ListAuth()
	if err != nil || auths["userpass/"] == nil || auths["token/"] == nil {
		t.Fatalf("auth list: %v, %v", auths, err)
	}
	if err := root.Sys().PutPolicy("app", appPolicy); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("auth/userpass/users/bob", map[string]any{"password": "correct horse", "token_policies": "app", "token_ttl": "1h"}); err != nil {
		t.Fatal(err)
	}
	u, err := root.Logical().Read("auth/userpass/users/bob")
	if err != nil || u.Data["password"] != nil || strings.Contains(strings.ToLower(fmtAny(u.Data)), "hash") {
		t.Fatalf("user read shows the password or hash: %+v, %v", u, err)
	}
	anon := tokenClient(t, root, "")
	anon.ClearToken()
	login := func(user, pw string) (*api.Secret, error) {
		return anon.Logical().Write("auth/userpass/login/"+user, map[string]any{"password": pw})
	}
	s, err := login("bob", "correct horse")
	if err != nil || s.Auth == nil || strings.Join(s.Auth.Policies, ",") != "app,default" || s.Auth.Metadata["username"] != "bob" {
		t.Fatalf("login: %+v, %v", s, err)
	}
	bob := tokenClient(t, root, s.Auth.ClientToken)
	if _, err := bob.KVv2("secret").Put(t.Context(), "app/x", map[string]any{"a": "b"}); err != nil {
		t.Fatalf("bob's token: %v", err)
	}
	// Wrong password and unknown user: the same 400, nothing issued.
	_, errWrong := login("bob", "wrong")
	_, errUnknown := login("mallory", "whatever")
	if statusOf(errWrong) != 400 || statusOf(errUnknown) != 400 || !strings.Contains(errWrong.Error(), "invalid username or password") || !strings.Contains(errUnknown.Error(), "invalid username or password") {
		t.Fatalf("bad logins: %v / %v", errWrong, errUnknown)
	}
	// Password change: the old one stops working.
	if _, err := root.Logical().Write("auth/userpass/users/bob/password", map[string]any{"password": "new pw"}); err != nil {
		t.Fatal(err)
	}
	if _, err := login("bob", "correct horse"); statusOf(err) != 400 {
		t.Fatalf("old password after change: %v", err)
	}
	if _, err := login("bob", "new pw"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	// A token bound to another network is refused from here.
	if _, err := root.Logical().Write("auth/userpass/users/far", map[string]any{"password": "pw", "token_bound_cidrs": "10.0.0.0/8"}); err != nil {
		t.Fatal(err)
	}
	far, err := login("far", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tokenClient(t, root, far.Auth.ClientToken).Auth().Token().LookupSelf(); statusOf(err) != 403 {
		t.Fatalf("token used outside its bound CIDR: got %v, want 403", err)
	}
	// Deleting the user stops renewal; disabling the method revokes its tokens.
	if _, err := root.Logical().Delete("auth/userpass/users/bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Auth().Token().RenewSelf(60); err == nil {
		t.Fatal("renewal after the user was deleted succeeded")
	}
	if err := root.Sys().DisableAuth("userpass"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Auth().Token().LookupSelf(); statusOf(err) != 403 {
		t.Fatalf("token after its auth method was disabled: got %v, want 403", err)
	}
}
