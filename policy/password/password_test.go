package password

import (
	"strings"
	"testing"
	"unicode/utf8"
)

const digitsAndUpper = `
length = 30
rule "charset" {
  charset   = "0123456789"
  min-chars = 3
}
rule "charset" {
  charset   = "ABCDEF"
  min-chars = 2
}
`

func TestGenerateFollowsThePolicy(t *testing.T) {
	p, err := Parse(digitsAndUpper)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 500 {
		pw, err := p.Generate()
		if err != nil {
			t.Fatal(err)
		}
		if utf8.RuneCountInString(pw) != 30 {
			t.Fatalf("%q: length %d, want 30", pw, len(pw))
		}
		digits, upper := 0, 0
		for _, c := range pw {
			switch {
			case c >= '0' && c <= '9':
				digits++
			case c >= 'A' && c <= 'F':
				upper++
			default:
				t.Fatalf("%q holds %q, outside every charset", pw, c)
			}
		}
		if digits < 3 || upper < 2 {
			t.Fatalf("%q: %d digits and %d letters, want at least 3 and 2", pw, digits, upper)
		}
		if seen[pw] {
			t.Fatalf("%q generated twice", pw)
		}
		seen[pw] = true
	}
}

// The min-chars characters are not always in front: positions are
// shuffled.
func TestRequiredCharactersAreShuffled(t *testing.T) {
	p, err := Parse(`length = 10
rule "charset" { charset = "a" }
rule "charset" { charset = "Z"  min-chars = 1 }`)
	if err != nil {
		t.Fatal(err)
	}
	firstZ := 0
	for range 200 {
		pw, _ := p.Generate()
		if !strings.Contains(pw, "Z") {
			t.Fatalf("%q lacks the required Z", pw)
		}
		if pw[0] == 'Z' {
			firstZ++
		}
	}
	if firstZ > 150 {
		t.Fatalf("Z came first in %d of 200 passwords: not shuffled", firstZ)
	}
}

func TestUnicodeCharset(t *testing.T) {
	p, err := Parse(`length = 8
rule "charset" { charset = "äöü€"  min-chars = 8 }`)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := p.Generate()
	if utf8.RuneCountInString(pw) != 8 || strings.Trim(pw, "äöü€") != "" {
		t.Fatalf("%q", pw)
	}
}

func TestBadPolicies(t *testing.T) {
	for name, c := range map[string]struct{ text, want string }{
		"not hcl":         {`rule "charset" {`, "parsing the policy"},
		"no length":       {`rule "charset" { charset = "a" }`, "length is required"},
		"short":           {`length = 3` + "\n" + `rule "charset" { charset = "a" }`, "between 4 and 100"},
		"long":            {`length = 101` + "\n" + `rule "charset" { charset = "a" }`, "between 4 and 100"},
		"text length":     {`length = "20"` + "\n" + `rule "charset" { charset = "a" }`, "whole number"},
		"no rule":         {`length = 20`, "at least one rule"},
		"other rule":      {`length = 20` + "\n" + `rule "charset" { charset = "a" }` + "\n" + `rule "disallowed" { charset = "b" }`, `only "charset" rules`},
		"empty charset":   {`length = 20` + "\n" + `rule "charset" { charset = "" }`, "non-empty"},
		"control char":    {"length = 20\nrule \"charset\" { charset = \"a\\tb\" }", "control characters"},
		"negative min":    {`length = 20` + "\n" + `rule "charset" { charset = "a"  min-chars = -1 }`, "negative"},
		"min too large":   {`length = 5` + "\n" + `rule "charset" { charset = "a"  min-chars = 3 }` + "\n" + `rule "charset" { charset = "b"  min-chars = 3 }`, "add up to 6"},
		"unknown key":     {`length = 20` + "\n" + `lenght = 5` + "\n" + `rule "charset" { charset = "a" }`, `unknown key "lenght"`},
		"unknown in rule": {`length = 20` + "\n" + `rule "charset" { charset = "a"  max-chars = 3 }`, `unknown key "max-chars"`},
	} {
		_, err := Parse(c.text)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", name, err, c.want)
		}
	}
}
