package syspath

import "testing"

func TestCanonical(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"an alias and the policy name under it", "policy/ OPS ", "policies/acl/ops"},
		{"a bare alias", "renew", "leases/renew"},
		{"under an alias", "revoke/lease-id", "leases/revoke/lease-id"},
		{"an alias that is not bare stays", "policy", "policy"},
		{"a list keeps its slash", "policies/acl/", "policies/acl/"},
		{"a name folded, its list slash kept", "policies/acl/Ops/", "policies/acl/ops/"},
		{"more than one segment is not a name", "policies/acl/a/B", "policies/acl/a/B"},
		{"a fold to a dot segment is not made", "policies/acl/ . ", "policies/acl/ . "},
		{"other paths stay", "mounts/Secret", "mounts/Secret"},
	} {
		if got := Canonical(tc.in); got != tc.want {
			t.Errorf("%s: Canonical(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}
