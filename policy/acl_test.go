package policy

import (
	"fmt"
	"strings"
	"testing"
)

func mustParse(t testing.TB, name, src string) *Policy {
	t.Helper()
	p, err := Parse(name, src)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const appPolicy = `
path "secret/data/app/*" {
  capabilities = ["read", "list"]
}
path "secret/data/app/admin" {
  capabilities = ["deny"]
}
path "secret/data/team/+/config" {
  capabilities = ["read", "update"]
}
path "secret/data/exact" {
  capabilities = ["create", "read"]
}
path "secret/metadata/*" {
  capabilities = ["list"]
}
path "sys/rotate" {
  capabilities = ["update", "sudo"]
}
`

func TestCheck(t *testing.T) {
	acl := NewACL(mustParse(t, "app", appPolicy))
	tests := []struct {
		name, path, op string
		want           bool
	}{
		{"glob read", "secret/data/app/db", "read", true},
		{"glob deep read", "secret/data/app/a/b/c", "read", true},
		{"glob does not grant write", "secret/data/app/db", "update", false},
		{"deny beats glob", "secret/data/app/admin", "read", false},
		{"deny is exact, not prefix", "secret/data/app/admin2", "read", true},
		{"glob base listed", "secret/data/app/", "list", true},
		{"glob base listed without slash", "secret/data/app", "list", true},
		// Reading "secret/data/app/" reads the key "secret/data/app", which
		// the glob does not cover.
		{"glob base read is the key itself", "secret/data/app/", "read", false},
		{"glob needs its prefix", "secret/data/ap", "read", false},
		{"sibling not covered", "secret/data/apple", "read", false},
		{"plus one segment", "secret/data/team/ops/config", "update", true},
		{"plus not zero segments", "secret/data/team/config", "read", false},
		{"plus not two segments", "secret/data/team/a/b/config", "read", false},
		{"plus not empty segment", "secret/data/team//config", "read", false},
		{"exact", "secret/data/exact", "create", true},
		{"exact no suffix", "secret/data/exact/x", "read", false},
		{"exact rule governs trailing slash", "secret/data/exact/", "read", true},
		{"exact rule governs trailing slash, no extra caps", "secret/data/exact/", "update", false},
		{"case sensitive", "secret/data/APP/db", "read", false},
		{"case sensitive exact", "Secret/data/exact", "read", false},
		{"dot-dot is literal, not a way up", "secret/data/app/../admin", "read", true},
		{"dot-dot cannot escape to sibling", "secret/data/app/../../metadata/x", "update", false},
		{"url-encoded stays literal", "secret/data/app%2F..%2Fadmin", "read", false},
		{"encoded slash not a segment", "secret/data/team/a%2Fb/config", "read", true},
		{"double slash is the same path", "secret//data/app/db", "read", true},
		{"leading slash is the same path", "/secret/data/app/db", "read", true},
		{"double slash cannot dodge a deny", "secret/data//app/admin", "read", false},
		{"trailing slash cannot dodge a deny", "secret/data/app/admin/", "read", false},
		{"leading slash cannot dodge a deny", "/secret/data/app/admin", "read", false},
		{"unknown operation", "secret/data/app/db", "frobnicate", false},
		{"nothing matches", "other/path", "read", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := acl.Check(tc.path, tc.op, nil).Allowed; got != tc.want {
				t.Fatalf("Check(%q, %s) = %v, want %v", tc.path, tc.op, got, tc.want)
			}
		})
	}
}

// TestTrickyPathsNeverWiden checks that no spelling of a path is granted
// more than the plain path: a spelling that canonicalises to the denied
// path is denied, and the rest are other paths, which the glob grants.
func TestTrickyPathsNeverWiden(t *testing.T) {
	acl := NewACL(mustParse(t, "p", `
path "secret/data/public/*" { capabilities = ["read"] }
path "secret/data/public/private" { capabilities = ["deny"] }
`))
	tests := []struct {
		name, path string
		want       bool
	}{
		{"the denied path", "secret/data/public/private", false},
		{"doubled slash", "secret/data/public//private", false},
		{"trailing slash", "secret/data/public/private/", false},
		{"leading slash", "/secret/data/public/private", false},
		{"all of them", "//secret//data//public//private//", false},
		// Dots are refused by the server; to the ACL they are literal
		// segments of another path.
		{"dot segment is another path", "secret/data/public/./private", true},
		{"dot-dot is another path", "secret/data/public/x/../private", true},
		{"encoded letter is another path", "secret/data/public/%70rivate", true},
		{"case is another path (folding is the pipeline's)", "secret/data/public/PRIVATE", true},
		{"NUL is another path", "secret/data/public/private%00", true},
		{"query is another path", "secret/data/public/private?x=1", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := acl.Check(tc.path, "read", nil).Allowed; got != tc.want {
				t.Fatalf("Check(%q) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

func TestPriority(t *testing.T) {
	acl := NewACL(mustParse(t, "p", `
path "a/*"         { capabilities = ["read"] }
path "a/b/*"       { capabilities = ["deny"] }
path "a/b/c*"      { capabilities = ["list"] }
path "a/+/c/d"     { capabilities = ["update"] }
path "a/b/+/d"     { capabilities = ["create"] }
path "+/b/c/d"     { capabilities = ["patch"] }
`))
	tests := []struct{ path, want string }{
		{"a/x", "read"},
		{"a/b/x", "deny"},
		{"a/b/cat", "list"},
		// a/b/c* has its first wildcard latest (byte 5), so it beats
		// a/b/+/d (4), a/b/* (4), a/+/c/d (2) and +/b/c/d (0).
		{"a/b/c/d", "list"},
		{"a/b/x/d", "create"}, // a/b/+/d beats a/b/* (same first wildcard, no trailing *)
		{"a/z/c/d", "update"},
		{"q/b/c/d", "patch"},
	}
	for _, tc := range tests {
		if got := strings.Join(acl.Capabilities(tc.path), ","); got != tc.want {
			t.Errorf("Capabilities(%q) = %s, want %s", tc.path, got, tc.want)
		}
	}
}

func TestMergeAcrossPolicies(t *testing.T) {
	read := mustParse(t, "r", `path "s/*" { capabilities = ["read"] }`)
	write := mustParse(t, "w", `path "s/*" { capabilities = ["update"] }`)
	deny := mustParse(t, "d", `path "s/*" { capabilities = ["deny"] }`)
	if got := strings.Join(NewACL(read, write).Capabilities("s/x"), ","); got != "read,update" {
		t.Fatalf("union: got %s, want read,update", got)
	}
	if NewACL(read, write, deny).Check("s/x", "read", nil).Allowed {
		t.Fatal("deny in one policy did not win")
	}
}

func TestParameters(t *testing.T) {
	acl := NewACL(mustParse(t, "p", `
path "cfg" {
  capabilities = ["create", "update"]
  required_parameters = ["owner"]
  allowed_parameters = {
    "owner" = []
    "env"   = ["dev", "stage-*"]
  }
  denied_parameters = {
    "env" = ["stage-prod"]
  }
}
path "open" {
  capabilities = ["update"]
  denied_parameters = { "*" = ["secret*"] }
}
`))
	tests := []struct {
		name   string
		path   string
		params map[string]any
		want   bool
	}{
		{"all fine", "cfg", map[string]any{"owner": "me", "env": "dev"}, true},
		{"glob value", "cfg", map[string]any{"owner": "me", "env": "stage-eu"}, true},
		{"denied value beats allowed glob", "cfg", map[string]any{"owner": "me", "env": "stage-prod"}, false},
		{"value not allowed", "cfg", map[string]any{"owner": "me", "env": "prod"}, false},
		{"key not allowed", "cfg", map[string]any{"owner": "me", "extra": "x"}, false},
		{"required missing", "cfg", map[string]any{"env": "dev"}, false},
		{"denied by wildcard key", "open", map[string]any{"a": "secret-x"}, false},
		{"wildcard allows other values", "open", map[string]any{"a": "public"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := acl.Check(tc.path, "update", tc.params).Allowed; got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	// Reads are not constrained by parameters.
	if NewACL(mustParse(t, "r", `path "cfg" { capabilities = ["read"] required_parameters = ["x"] }`)).Check("cfg", "read", nil).Allowed != true {
		t.Fatal("required_parameters applied to a read")
	}
}

func TestRootAndSudo(t *testing.T) {
	if d := RootACL().Check("anything/at/all", "delete", nil); !d.Allowed || !d.Sudo {
		t.Fatal("root ACL refused")
	}
	acl := NewACL(mustParse(t, "app", appPolicy))
	if d := acl.Check("sys/rotate", "update", nil); !d.Allowed || !d.Sudo {
		t.Fatalf("sudo rule: %+v", d)
	}
	if d := acl.Check("secret/data/app/x", "read", nil); d.Sudo {
		t.Fatal("sudo granted where not written")
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("secret/data/app/*", "secret/data/app/x")
	f.Add("a/+/c", "a/b/c")
	f.Add("+/+*", "x/yz")
	f.Add("auth/token/tidy/", "auth/token/tidy")
	f.Add("a/b", "/a//b/")
	f.Fuzz(func(t *testing.T, pattern, path string) {
		p, err := Parse("fuzz", fmt.Sprintf("path %q { capabilities = [\"read\"] }", pattern))
		if err != nil {
			return
		}
		acl := NewACL(p)
		got := acl.Check(path, "read", nil).Allowed
		// Reference: the compiled lookup must agree with matching the one
		// rule (an exact pattern in its canonical form) directly against
		// the canonical path.
		pat := p.Rules[0].Pattern
		if !strings.ContainsAny(pat, "+*") {
			pat = CanonicalPath(pat)
		}
		c := CanonicalPath(path)
		want := globMatch(pat, c)
		if got != want {
			t.Fatalf("pattern %q path %q: ACL says %v, direct match says %v", pat, path, got, want)
		}
		// A rule never matches a path outside its literal prefix.
		lit := pat
		if i := strings.IndexAny(lit, "+*"); i >= 0 {
			lit = lit[:i]
		}
		if got && !strings.HasPrefix(c, lit) {
			t.Fatalf("pattern %q matched %q outside its prefix %q", pattern, c, lit)
		}
	})
}

// BenchmarkCheck100x20 evaluates requests against 100 policies of 20 paths.
func BenchmarkCheck100x20(b *testing.B) {
	var policies []*Policy
	for p := range 100 {
		var sb strings.Builder
		for r := range 20 {
			switch r % 3 {
			case 0:
				fmt.Fprintf(&sb, "path \"secret/data/team%d/svc%d/*\" { capabilities = [\"read\"] }\n", p, r)
			case 1:
				fmt.Fprintf(&sb, "path \"secret/data/team%d/+/cfg%d\" { capabilities = [\"update\"] }\n", p, r)
			default:
				fmt.Fprintf(&sb, "path \"kv/team%d/exact%d\" { capabilities = [\"read\", \"list\"] }\n", p, r)
			}
		}
		policies = append(policies, mustParse(b, fmt.Sprint(p), sb.String()))
	}
	acl := NewACL(policies...)
	paths := []string{"secret/data/team42/svc9/db/password", "secret/data/team7/app/cfg10", "kv/team99/exact17", "secret/data/nobody/x"}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		acl.Check(paths[i%len(paths)], "read", nil)
		i++
	}
}
