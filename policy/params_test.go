package policy

import (
	"encoding/json"
	"strings"
	"testing"
)

// tokenCreatePolicy is the shape of item 5 of issue 12: a token may create
// children but never with the admin policy.
const tokenCreatePolicy = `
path "auth/token/create" {
  capabilities = ["update"]
  denied_parameters = {
    "policies" = ["admin", "root*"]
  }
}
path "auth/token/create/ci" {
  capabilities = ["update"]
  allowed_parameters = {
    "policies" = ["ci", "ci-*"]
    "ttl"      = []
    "meta"     = ["*"]
  }
}
path "sys/config" {
  capabilities = ["update"]
  required_parameters = ["owner"]
  allowed_parameters = {
    "owner" = []
    "mode"  = ["a,b"]
  }
}
path "kv/*" {
  capabilities = ["create", "update"]
  denied_parameters = {
    "*" = ["*secret*"]
  }
}
path "kv/open" {
  capabilities = ["update"]
  denied_parameters = {
    "Flag" = []
  }
}
`

func TestParameterBypasses(t *testing.T) {
	acl := NewACL(mustParse(t, "p", tokenCreatePolicy))
	tests := []struct {
		name   string
		path   string
		params map[string]any
		want   bool
	}{
		// Ordinary denied_parameters.
		{"denied value", "auth/token/create", map[string]any{"policies": "admin"}, false},
		{"other value", "auth/token/create", map[string]any{"policies": "default"}, true},
		{"denied glob", "auth/token/create", map[string]any{"policies": "root-ish"}, false},
		{"no parameters", "auth/token/create", nil, true},
		{"list without denied value", "auth/token/create", map[string]any{"policies": []any{"default", "dev"}}, true},
		{"comma string without denied value", "auth/token/create", map[string]any{"policies": "default,dev"}, true},
		{"admin as substring is a different name", "auth/token/create", map[string]any{"policies": "sysadmin"}, true},

		// The bypasses of issue 12, item 5.
		{"list with denied value among others", "auth/token/create", map[string]any{"policies": []any{"admin", "default"}}, false},
		{"list with denied value last", "auth/token/create", map[string]any{"policies": []any{"default", "admin"}}, false},
		{"query-string list", "auth/token/create", map[string]any{"policies": []string{"default", "admin"}}, false},
		{"comma string", "auth/token/create", map[string]any{"policies": "default,admin"}, false},
		{"comma string with spaces", "auth/token/create", map[string]any{"policies": "default , admin "}, false},
		{"comma string inside a list", "auth/token/create", map[string]any{"policies": []any{"default,admin"}}, false},
		{"upper case", "auth/token/create", map[string]any{"policies": "Admin"}, false},
		{"upper case in list", "auth/token/create", map[string]any{"policies": []any{"default", "ADMIN"}}, false},
		{"upper case in comma string", "auth/token/create", map[string]any{"policies": "default,aDmIn"}, false},
		{"upper case glob", "auth/token/create", map[string]any{"policies": []any{"ROOT"}}, false},
		{"surrounding space", "auth/token/create", map[string]any{"policies": " admin\t"}, false},
		{"nested list", "auth/token/create", map[string]any{"policies": []any{[]any{"admin"}}}, false},
		{"object value", "auth/token/create", map[string]any{"policies": map[string]any{"x": "admin"}}, false},
		{"object key", "auth/token/create", map[string]any{"policies": map[string]any{"admin": true}}, false},
		{"unreadable value fails closed", "auth/token/create", map[string]any{"policies": struct{}{}}, false},
		{"dotless i folds to I", "auth/token/create", map[string]any{"policies": "admın"}, false},

		// allowed_parameters: every element must be allowed.
		{"allowed value", "auth/token/create/ci", map[string]any{"policies": "ci"}, true},
		{"allowed glob", "auth/token/create/ci", map[string]any{"policies": "ci-build"}, true},
		{"allowed list", "auth/token/create/ci", map[string]any{"policies": []any{"ci", "ci-deploy"}}, true},
		{"allowed any value", "auth/token/create/ci", map[string]any{"policies": "ci", "ttl": json.Number("3600")}, true},
		{"allowed list with one stranger", "auth/token/create/ci", map[string]any{"policies": []any{"ci", "admin"}}, false},
		{"allowed glob swallowing a comma", "auth/token/create/ci", map[string]any{"policies": "ci-x,admin"}, false},
		{"allowed glob, every piece matches", "auth/token/create/ci", map[string]any{"policies": "ci-a,ci-b"}, true},
		{"allowed glob swallowing a list", "auth/token/create/ci", map[string]any{"policies": []any{"ci-x,admin"}}, false},
		// Allowed values compare case-sensitively: a handler that keeps
		// case would act on a name the policy never allowed.
		{"allowed is case-sensitive", "auth/token/create/ci", map[string]any{"policies": "CI"}, false},
		{"allowed value with space", "auth/token/create/ci", map[string]any{"policies": " ci"}, false},
		{"empty list is not an allowed value", "auth/token/create/ci", map[string]any{"policies": []any{}}, false},
		{"empty string is not an allowed value", "auth/token/create/ci", map[string]any{"policies": ""}, false},
		{"key not allowed", "auth/token/create/ci", map[string]any{"policies": "ci", "num_uses": json.Number("1")}, false},
		{"key case differs from the allowed one", "auth/token/create/ci", map[string]any{"Policies": "ci"}, false},
		{"object only by bare star", "auth/token/create/ci", map[string]any{"meta": map[string]any{"a": "b"}}, true},
		{"object under specific values", "auth/token/create/ci", map[string]any{"policies": map[string]any{"ci": "ci"}}, false},
		{"allowed value with a comma: whole and pieces", "sys/config", map[string]any{"owner": "me", "mode": "a,b"}, false},

		// required_parameters: present and not empty after splitting.
		{"required present", "sys/config", map[string]any{"owner": "me"}, true},
		{"required missing", "sys/config", map[string]any{}, false},
		{"required empty string", "sys/config", map[string]any{"owner": ""}, false},
		{"required only commas and spaces", "sys/config", map[string]any{"owner": " , "}, false},
		{"required empty list", "sys/config", map[string]any{"owner": []any{}}, false},
		{"required null", "sys/config", map[string]any{"owner": nil}, false},
		{"required number", "sys/config", map[string]any{"owner": json.Number("0")}, true},
		{"required key case differs", "sys/config", map[string]any{"Owner": "me"}, false},

		// A "*" key and case-insensitive denied keys.
		{"star key denies glob value", "kv/x", map[string]any{"a": "my-secret-value"}, false},
		{"star key denies glob value in list", "kv/x", map[string]any{"a": []any{"ok", "TOP-SECRET"}}, false},
		{"star key allows other values", "kv/x", map[string]any{"a": "public"}, true},
		{"denied key any value", "kv/open", map[string]any{"flag": "x"}, false},
		{"denied key in another case", "kv/open", map[string]any{"FLAG": "x"}, false},
		{"other key", "kv/open", map[string]any{"other": "x"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := acl.Check(tc.path, "update", tc.params)
			if d.Allowed != tc.want {
				t.Fatalf("Check(%q, update, %v) = %+v, want allowed %v", tc.path, tc.params, d, tc.want)
			}
			if !d.Allowed && !strings.HasPrefix(d.Reason, "permission denied") {
				t.Fatalf("reason %q, want a permission denied", d.Reason)
			}
		})
	}
}

// TestParametersOnlyOnWrites: reads, lists and deletes carry query
// parameters that the constraints do not govern, as in Vault.
func TestParametersOnlyOnWrites(t *testing.T) {
	acl := NewACL(mustParse(t, "p", `path "x" {
  capabilities = ["read", "delete", "create", "patch"]
  denied_parameters = { "v" = [] }
}`))
	bad := map[string]any{"v": "1"}
	for op, want := range map[string]bool{"read": true, "delete": true, "create": false, "patch": false} {
		if got := acl.Check("x", op, bad).Allowed; got != want {
			t.Errorf("%s with a denied parameter: got %v, want %v", op, got, want)
		}
	}
}

// TestParameterMerge: constraints from several policies on one path
// merge, denied names in different cases included.
func TestParameterMerge(t *testing.T) {
	a := mustParse(t, "a", `path "p" { capabilities = ["update"] denied_parameters = { "Policies" = ["admin"] } }`)
	b := mustParse(t, "b", `path "p" { capabilities = ["update"] denied_parameters = { "policies" = ["ops"] } }`)
	acl := NewACL(a, b)
	tests := []struct {
		name string
		v    any
		want bool
	}{
		{"first policy's value", "x,Admin", false},
		{"second policy's value", []any{"OPS"}, false},
		{"neither", "dev", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := acl.Check("p", "update", map[string]any{"policies": tc.v}).Allowed; got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDeepValueFailsClosed(t *testing.T) {
	acl := NewACL(mustParse(t, "p", `path "p" {
  capabilities = ["update"]
  denied_parameters = { "v" = ["admin"] }
}`))
	var v any = "harmless"
	for range maxValueDepth + 2 {
		v = []any{v}
	}
	if acl.Check("p", "update", map[string]any{"v": v}).Allowed {
		t.Fatal("a value nested past the depth bound passed a denied list")
	}
}
