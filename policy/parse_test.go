package policy

import (
	"errors"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		wantLine int
		wantErr  error
	}{
		{"unknown capability", "path \"a\" {\n  capabilities = [\"read\", \"fly\"]\n}\n", 2, ErrUnknownCapability},
		{"unknown key in block", "path \"a\" {\n  capabilities = [\"read\"]\n  colour = \"red\"\n}\n", 3, ErrInvalidPolicy},
		{"unknown top-level", "\n\nname = \"x\"\n", 3, ErrInvalidPolicy},
		{"glob in the middle", "path \"a/*/b\" { capabilities = [\"read\"] }\n", 1, ErrInvalidPolicy},
		{"plus inside a segment", "path \"a/b+c\" { capabilities = [\"read\"] }\n", 1, ErrInvalidPolicy},
		{"dot segment", "path \"a/../b\" { capabilities = [\"read\"] }\n", 1, ErrInvalidPolicy},
		{"empty segment", "path \"a//b\" { capabilities = [\"read\"] }\n", 1, ErrInvalidPolicy},
		{"no capabilities", "\npath \"a\" {}\n", 2, ErrInvalidPolicy},
		{"capabilities not a list", "path \"a\" {\n capabilities = \"read\"\n}\n", 2, ErrInvalidPolicy},
		{"syntax error", "path \"a\" {\n capabilities = [\"read\"\n", 0, ErrInvalidPolicy},
		{"bad wrapping ttl", "path \"a\" {\n capabilities = [\"read\"]\n max_wrapping_ttl = \"soon\"\n}\n", 3, ErrInvalidPolicy},
		{"legacy unknown", "path \"a\" {\n policy = \"all\"\n}\n", 2, ErrUnknownCapability},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p", tc.src)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a *ParseError", err)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want it to wrap %v", err, tc.wantErr)
			}
			if tc.wantLine > 0 && pe.Line != tc.wantLine {
				t.Fatalf("got line %d (%v), want %d", pe.Line, err, tc.wantLine)
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	p, err := Parse("p", `
# comment
path "/secret/data/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list", "sudo"]
  min_wrapping_ttl = "1s"
  max_wrapping_ttl = "90s"
}
path "old" { policy = "write" }
path "denied" { capabilities = ["read", "deny"] }
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Rules) != 3 || p.Rules[0].Pattern != "secret/data/*" || p.Rules[0].Line != 3 {
		t.Fatalf("rules: %+v", p.Rules)
	}
	if p.Rules[0].MaxWrappingTTL.Seconds() != 90 || p.Rules[0].Caps&Sudo == 0 {
		t.Fatalf("rule 0: %+v", p.Rules[0])
	}
	if p.Rules[1].Caps&Update == 0 || p.Rules[2].Caps != Deny {
		t.Fatalf("legacy or deny: %+v %+v", p.Rules[1], p.Rules[2])
	}
}

func FuzzParse(f *testing.F) {
	f.Add(appPolicy)
	f.Add(`path "a/+/b*" { capabilities = ["read"] allowed_parameters = { "x" = ["1"] } }`)
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Parse("fuzz", src)
		if err != nil {
			return
		}
		acl := NewACL(p)
		for _, r := range p.Rules {
			_ = acl.Check(r.Pattern, "read", map[string]any{"x": "1"})
		}
	})
}

func TestBuiltinPoliciesParse(t *testing.T) {
	if _, err := Parse("default", DefaultText); err != nil {
		t.Fatalf("the default policy does not parse: %v", err)
	}
	acl := NewACL(ResponseWrapping())
	if !acl.Check("sys/wrapping/unwrap", "update", nil).Allowed || acl.Check("secret/data/x", "read", nil).Allowed {
		t.Fatal("the response-wrapping policy allows other than the wrapping endpoints")
	}
}
