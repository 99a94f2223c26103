package database

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arca-secrets/arca/internal/clocktest"
	"github.com/arca-secrets/arca/logical"
)

func TestGeneratedPasswordsMeetThePolicy(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		p, err := generatePassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != passwordLength || !strings.ContainsAny(p, lower) || !strings.ContainsAny(p, upper) || !strings.ContainsAny(p, digit) || !strings.Contains(p, "-") {
			t.Fatalf("password %q breaks the policy", p)
		}
		if err := safeValue("password", p); err != nil {
			t.Fatalf("password %q is not safe in a statement: %v", p, err)
		}
		if seen[p] {
			t.Fatalf("password repeated: %q", p)
		}
		seen[p] = true
	}
}

func TestDefaultUsernameIdentifiesCallerRoleAndTime(t *testing.T) {
	issued := clocktest.Start
	u, err := generateUsername("", "readonly-reports", `token"; DROP`, issued)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(u, "-")
	// v, display name (cleaned, at most 20), role (8), random, time.
	if !strings.HasPrefix(u, "v-token---DROP-readonly-") || len(parts[len(parts)-2]) != 12 || len(u) > 63 {
		t.Fatalf("username %q", u)
	}
	if got, want := parts[len(parts)-1], strconv.FormatInt(issued.Unix(), 10); got != want {
		t.Fatalf("timestamp: got %s, want the time of issue %s", got, want)
	}
}

// Every time function of a template reads the time of issue it is given.
func TestUsernameTemplateTimeIsTheTimeOfIssue(t *testing.T) {
	issued := time.Date(2031, 5, 6, 7, 8, 9, 250*int(time.Millisecond), time.UTC)
	u, err := generateUsername(`u_{{timestamp "20060102150405"}}_{{unix_time_millis}}_{{unix_time}}`, "ro", "x", issued)
	if err != nil {
		t.Fatal(err)
	}
	if want := "u_20310506070809_" + strconv.FormatInt(issued.UnixMilli(), 10) + "_" + strconv.FormatInt(issued.Unix(), 10); u != want {
		t.Fatalf("got %q, want %q", u, want)
	}
}

func TestUsernameTemplateIsCheckedAndUnsafeOutputRefused(t *testing.T) {
	if u, err := generateUsername(`app_{{.RoleName | uppercase}}_{{random 4}}`, "ro", "x", clocktest.Start); err != nil || !strings.HasPrefix(u, "app_RO_") || len(u) != 11 {
		t.Fatalf("custom template: %q, %v", u, err)
	}
	for _, tmpl := range []string{`{{ .Nope }}`, `{{ random }`, `x'y`, `{{ printf "%s" "a;b" }}`, `{{ random 64 }}`} {
		if _, err := generateUsername(tmpl, "ro", "x", clocktest.Start); err == nil {
			t.Errorf("template %q: accepted", tmpl)
		}
	}
}

func TestSafeValueRefusesWhatCouldEscapeAQuote(t *testing.T) {
	for _, bad := range []string{"", `a"b`, "a'b", `a\b`, "a;b", "a b", "a\x00", strings.Repeat("a", 64), "é"} {
		if safeValue("v", bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, good := range []string{"app_user", "v-root-ro-abc-123", "svc.reports@corp"} {
		if err := safeValue("v", good); err != nil {
			t.Errorf("%q refused: %v", good, err)
		}
	}
}

func TestStatementsSplitAndRender(t *testing.T) {
	got := split(`CREATE ROLE "{{name}}"; GRANT x TO "{{name}}";  ;`)
	if len(got) != 2 || got[1] != `GRANT x TO "{{name}}"` {
		t.Fatalf("split: %q", got)
	}
	body := `DO $$ BEGIN CREATE ROLE a; CREATE ROLE b; END $$;`
	if got := split(body); len(got) != 1 || got[0] != body {
		t.Fatalf("dollar-quoted body split: %q", got)
	}
	out := render(`CREATE ROLE "{{name}}" PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' -- {{username}}`, vars{name: "u", password: "p", expiration: "e"})
	if out != `CREATE ROLE "u" PASSWORD 'p' VALID UNTIL 'e' -- u` {
		t.Fatalf("render: %s", out)
	}
}

func TestStatementsParamTakesStringOrList(t *testing.T) {
	for _, c := range []struct {
		in   any
		want int
		err  bool
	}{{"SELECT 1", 1, false}, {[]any{"a", " ", "b"}, 2, false}, {"", 0, false}, {[]any{1}, 0, true}, {3, 0, true}} {
		got, err := statementsParam(map[string]any{"s": c.in}, "s")
		if (err != nil) != c.err || len(got) != c.want {
			t.Errorf("%v: %q, %v", c.in, got, err)
		}
	}
}

func TestCredentialTTLs(t *testing.T) {
	h := time.Hour
	for _, c := range []struct {
		role                role
		mountDef, mountMax  time.Duration
		wantTTL, wantMaxTTL time.Duration
	}{
		{role{}, 0, 0, h, 0},
		{role{DefaultTTL: 2 * h}, 0, 0, 2 * h, 0},
		{role{}, 3 * h, 0, 3 * h, 0},
		{role{DefaultTTL: 5 * h, MaxTTL: 10 * h}, 0, 4 * h, 4 * h, 4 * h},
		{role{DefaultTTL: 5 * h, MaxTTL: 2 * h}, 0, 0, 2 * h, 2 * h},
	} {
		ttl, max := credTTLs(&c.role, &logical.Request{MountDefaultTTL: c.mountDef, MountMaxTTL: c.mountMax})
		if ttl != c.wantTTL || max != c.wantMaxTTL {
			t.Errorf("%+v mount %s/%s: got %s/%s, want %s/%s", c.role, c.mountDef, c.mountMax, ttl, max, c.wantTTL, c.wantMaxTTL)
		}
	}
}
