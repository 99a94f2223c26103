package policy

import (
	"strings"
	"testing"
)

func TestCanonicalPath(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"canonical", "secret/data/x", "secret/data/x"},
		{"trailing slash", "auth/token/tidy/", "auth/token/tidy"},
		{"several trailing slashes", "auth/token/tidy///", "auth/token/tidy"},
		{"leading slash", "/sys/seal", "sys/seal"},
		{"empty segments", "a//b///c", "a/b/c"},
		{"all of them", "//a//b//", "a/b"},
		{"empty", "", ""},
		{"only slashes", "///", ""},
		{"dots stay", "a/./b/../c", "a/./b/../c"},
		{"case stays", "Sys/Policies/ACL/Admin", "Sys/Policies/ACL/Admin"},
		{"encoded slash stays", "a%2Fb/", "a%2Fb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := CanonicalPath(tc.in)
			if got != tc.want {
				t.Fatalf("CanonicalPath(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if again := CanonicalPath(got); again != got {
				t.Fatalf("not idempotent: CanonicalPath(%q) = %q", got, again)
			}
		})
	}
}

// TestTrailingSlashGoverned is issue 12, item 4, on the ACL's side: a rule
// on a path decides every spelling of it, whatever the caller passes.
func TestTrailingSlashGoverned(t *testing.T) {
	acl := NewACL(mustParse(t, "p", `
path "auth/token/*"               { capabilities = ["update", "read", "list"] }
path "auth/token/revoke-orphan"   { capabilities = ["update", "sudo"] }
path "auth/token/tidy"            { capabilities = ["deny"] }
path "auth/token/accessors/"      { capabilities = ["list", "sudo"] }
path "secret/data/*"              { capabilities = ["create", "update", "read"] }
path "secret/data/locked/*"       { capabilities = ["deny"] }
path "secret/data/ro/*"           { capabilities = ["read"] }
path "secret/metadata/*"          { capabilities = ["list"] }
path "secret/metadata/hidden"     { capabilities = ["deny"] }
path "secret/metadata/shown/"     { capabilities = ["list"] }
path "secret/metadata/shown/*"    { capabilities = ["deny"] }
`))
	tests := []struct {
		name, path, op string
		allowed, sudo  bool
	}{
		{"exact rule grants sudo", "auth/token/revoke-orphan", "update", true, true},
		{"exact rule governs trailing slash", "auth/token/revoke-orphan/", "update", true, true},
		{"and doubled slashes", "auth//token/revoke-orphan//", "update", true, true},
		{"glob alone gives no sudo", "auth/token/lookup", "update", true, false},
		{"deny on exact path", "auth/token/tidy", "update", false, false},
		{"deny on exact path, trailing slash", "auth/token/tidy/", "update", false, false},
		{"deny on exact path, leading slash", "/auth/token/tidy", "update", false, false},
		{"rule written with a slash governs the path", "auth/token/accessors", "list", true, true},
		{"rule written with a slash, list form", "auth/token/accessors/", "list", true, true},
		{"rule written with a slash, other caps from the glob", "auth/token/accessors", "update", false, false},
		// A rule that matches only the slashed spelling narrows it.
		{"deny on dir glob narrows a write to its slashed base", "secret/data/locked/", "update", false, false},
		{"the canonical base itself is the glob's", "secret/data/locked", "update", true, false},
		{"read-only dir glob narrows a write", "secret/data/ro/", "update", false, false},
		{"read-only dir glob still reads", "secret/data/ro/", "read", true, false},
		// Listing is decided on the directory form, as in Vault.
		{"list dir", "secret/metadata/", "list", true, false},
		{"list dir without slash", "secret/metadata", "list", true, false},
		{"list sub dir", "secret/metadata/app/", "list", true, false},
		{"exact deny governs listing its directory", "secret/metadata/hidden/", "list", false, false},
		{"exact deny, list without slash", "secret/metadata/hidden", "list", false, false},
		{"a deny on the directory glob wins over the exact grant", "secret/metadata/shown/", "list", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := acl.Check(tc.path, tc.op, nil)
			if d.Allowed != tc.allowed || d.Sudo != tc.sudo {
				t.Fatalf("Check(%q, %s) = allowed %v sudo %v, want allowed %v sudo %v", tc.path, tc.op, d.Allowed, d.Sudo, tc.allowed, tc.sudo)
			}
		})
	}
}

func TestCapabilitiesSpellings(t *testing.T) {
	acl := NewACL(mustParse(t, "p", `
path "auth/token/*"             { capabilities = ["update"] }
path "auth/token/revoke-orphan" { capabilities = ["update", "sudo"] }
path "auth/token/accessors"     { capabilities = ["list", "sudo"] }
path "secret/metadata/*"        { capabilities = ["list"] }
path "secret/data/x"            { capabilities = ["read"] }
path "secret/data/x/*"          { capabilities = ["deny"] }
`))
	tests := []struct{ path, want string }{
		{"auth/token/revoke-orphan", "update,sudo"},
		{"auth/token/revoke-orphan/", "update,sudo"},
		{"auth/token/accessors/", "list,sudo"},
		{"secret/metadata/", "list"},
		{"secret/metadata/a/b", "list"},
		{"secret/data/x", "read"},
		// The slashed spelling meets the deny on "secret/data/x/*".
		{"secret/data/x/", "deny"},
		{"nothing/here", "deny"},
	}
	for _, tc := range tests {
		if got := strings.Join(acl.Capabilities(tc.path), ","); got != tc.want {
			t.Errorf("Capabilities(%q) = %s, want %s", tc.path, got, tc.want)
		}
	}
}

// TestPathSet uses core's list of sudo paths, with the directories whose
// own requests need sudo listed themselves: every spelling of a member is
// a member.
func TestPathSet(t *testing.T) {
	sudo := NewPathSet("sys/seal", "sys/rotate", "sys/auth/*", "sys/audit", "sys/audit/*",
		"sys/leases/revoke-prefix", "sys/leases/revoke-prefix/*", "sys/leases/revoke-force/*",
		"sys/leases/lookup", "sys/leases/lookup/*",
		"auth/token/accessors/", "auth/token/revoke-orphan", "auth/token/tidy", "sys/raw*")
	tests := []struct {
		name, path string
		want       bool
	}{
		{"exact", "auth/token/revoke-orphan", true},
		{"exact, trailing slash", "auth/token/revoke-orphan/", true},
		{"exact, leading and doubled slashes", "/auth//token/tidy//", true},
		{"pattern written with a slash", "auth/token/accessors", true},
		{"pattern written with a slash, list form", "auth/token/accessors/", true},
		{"glob member", "sys/auth/userpass", true},
		{"glob member, doubled slash", "sys//auth/userpass/", true},
		{"glob does not hold its directory", "sys/auth", false},
		{"nor its directory spelt with a slash", "sys/auth/", false},
		{"revoke-prefix with an empty prefix", "sys/leases/revoke-prefix/", true},
		{"revoke-prefix with a prefix", "sys/leases/revoke-prefix/auth/token", true},
		{"listing leases", "sys/leases/lookup/", true},
		{"name glob", "sys/raw/logical", true},
		{"name glob, the name", "sys/raw", true},
		{"name glob, the name with a slash", "sys/raw/", true},
		{"sibling of an exact member", "auth/token/revoke-orphans", false},
		{"child of an exact member", "auth/token/tidy/x", false},
		{"sibling of a glob directory", "sys/authx", false},
		{"not a member", "secret/data/x", false},
		{"empty", "", false},
		{"case is the pipeline's", "Sys/Seal", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sudo.Contains(tc.path); got != tc.want {
				t.Fatalf("Contains(%q) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
	// A bare "*" holds everything, the root included.
	if all := NewPathSet("*"); !all.Contains("") || !all.Contains("a/b/") {
		t.Fatal(`"*" does not hold every path`)
	}
}
