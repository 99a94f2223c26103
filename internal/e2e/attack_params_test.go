package e2e

import (
	"testing"
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
