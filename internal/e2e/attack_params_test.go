package e2e

import (
	"testing"

	"github.com/openbao/openbao/api/v2"
)

// TestAttackDeniedParametersBypass: a token allowed to create children
// but denied the "admin" policy parameter tries to slip admin through a
// list, a comma string and a case change (issue 12, item 5).
func TestAttackDeniedParametersBypass(t *testing.T) {
	_, root := startDev(t, "root")
	if err := root.Sys().PutPolicy("creator", `
path "auth/token/create" {
  capabilities = ["update"]
  denied_parameters = {
    "policies" = ["admin"]
  }
}
`); err != nil {
		t.Fatal(err)
	}
	if err := root.Sys().PutPolicy("admin", `path "*" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	sec, err := root.Logical().Write("auth/token/create", map[string]any{"policies": []string{"creator", "admin"}})
	if err != nil {
		t.Fatal(err)
	}
	creator := tokenClient(t, root, sec.Auth.ClientToken)
	for _, tc := range []struct {
		name     string
		policies any
	}{
		{"list with the denied value among others", []string{"admin", "default"}},
		{"comma string", "default,admin"},
		{"case change", "Admin"},
		{"case change in a list", []string{"default", "ADMIN"}},
		{"spaces in a comma string", "default, admin "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sec, err := creator.Logical().Write("auth/token/create", map[string]any{"policies": tc.policies})
			if statusOf(err) != 403 {
				t.Fatalf("create with policies %v: %v, %v; want 403", tc.policies, sec, err)
			}
		})
	}
	// What the policy does not deny still works.
	sec, err = creator.Logical().Write("auth/token/create", map[string]any{"policies": []string{"default"}})
	if err != nil || sec == nil || sec.Auth == nil {
		t.Fatalf("create with an allowed policy: %v, %v", sec, err)
	}
}

// TestAttackReservedMountPathCase: a mount whose path differs from a
// reserved one only by case is refused, so that no policy author reads
// "SYS/" as covered by the rules for sys/.
func TestAttackReservedMountPathCase(t *testing.T) {
	_, root := startDev(t, "root")
	for _, path := range []string{"SYS/", "Sys/x", "Cubbyhole/", "AUTH/"} {
		err := root.Sys().Mount(path, &api.MountInput{Type: "kv"})
		if statusOf(err) != 400 {
			t.Errorf("mount at %s: %v, want 400", path, err)
		}
	}
	if err := root.Sys().EnableAuthWithOptions("Token", &api.EnableAuthOptions{Type: "userpass"}); statusOf(err) != 400 {
		t.Errorf("auth method at Token/: %v, want 400", err)
	}
}
