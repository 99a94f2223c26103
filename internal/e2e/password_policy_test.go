package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/openbao/openbao/api/v2"
)

const digitsPolicy = `
length = 32
rule "charset" {
  charset   = "0123456789"
  min-chars = 4
}
rule "charset" {
  charset   = "xyz"
  min-chars = 2
}
`

func onlyFrom(s, set string) bool { return strings.Trim(s, set) == "" }

// sys/policies/password as Vault serves it, and the database engine
// generating its users' passwords from one (a real PostgreSQL login).
func TestPasswordPolicies(t *testing.T) {
	f := newDBFixture(t)
	c := f.root
	f.write(t, "sys/policies/password/digits", map[string]any{"policy": digitsPolicy})

	got, err := c.Logical().Read("sys/policies/password/digits")
	if err != nil || got.Data["policy"] != digitsPolicy {
		t.Fatalf("read back: %+v, %v", got, err)
	}
	list, err := c.Logical().List("sys/policies/password")
	if err != nil || list == nil || len(list.Data["keys"].([]any)) != 1 {
		t.Fatalf("list: %+v, %v", list, err)
	}
	gen, err := c.Logical().Read("sys/policies/password/digits/generate")
	if err != nil {
		t.Fatal(err)
	}
	pw := gen.Data["password"].(string)
	if len(pw) != 32 || !onlyFrom(pw, "0123456789xyz") || strings.Count(pw, "x")+strings.Count(pw, "y")+strings.Count(pw, "z") < 2 {
		t.Fatalf("generated %q", pw)
	}

	status := func(err error) (int, string) {
		var re *api.ResponseError
		if !errors.As(err, &re) {
			return 0, ""
		}
		return re.StatusCode, strings.Join(re.Errors, " ")
	}
	_, err = c.Logical().Write("sys/policies/password/bad", map[string]any{"policy": "length = 2\nrule \"charset\" { charset = \"a\"  min-chars = 3 }"})
	if code, msg := status(err); code != 400 || !strings.Contains(msg, "between 4 and 100") || !strings.Contains(msg, "add up to 3") {
		t.Fatalf("bad policy: %d %q", code, msg)
	}
	if got, err := c.Logical().Read("sys/policies/password/bad"); err != nil || got != nil {
		t.Fatalf("a refused policy was stored: %+v, %v", got, err)
	}
	if _, err := c.Logical().Read("sys/policies/password/missing/generate"); err == nil {
		t.Fatal("generated from a policy that does not exist")
	}

	// The database engine uses the connection's policy. The role has a
	// name of its own, so that its users can be counted while other tests
	// use the same PostgreSQL.
	f.write(t, "database/config/pg", map[string]any{"password_policy": "digits", "allowed_roles": "ppolicy"})
	f.write(t, "database/roles/ppolicy", map[string]any{"db_name": "pg", "creation_statements": `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`})
	cfg, err := c.Logical().Read("database/config/pg")
	if err != nil || cfg.Data["password_policy"] != "digits" {
		t.Fatalf("config password_policy: %+v, %v", cfg, err)
	}
	user, pw, _ := f.creds(t, "ppolicy")
	if len(pw) != 32 || !onlyFrom(pw, "0123456789xyz") {
		t.Fatalf("creds password %q does not follow the policy", pw)
	}
	conn, err := f.login(user, pw)
	if err != nil {
		t.Fatalf("the policy's password does not log in: %v", err)
	}
	conn.Close(context.Background())

	// A policy whose passwords could break out of the statement's quoted
	// literal is refused before any user is created, without showing it.
	f.write(t, "sys/policies/password/quotes", map[string]any{"policy": `length = 20
rule "charset" { charset = "'"  min-chars = 1 }
rule "charset" { charset = "ab" }`})
	f.write(t, "database/config/pg", map[string]any{"password_policy": "quotes"})
	_, err = c.Logical().Read("database/creds/ppolicy")
	if code, msg := status(err); code != 400 || !strings.Contains(msg, `password policy "quotes" produces characters`) || strings.Contains(msg, "''") {
		t.Fatalf("unsafe policy: %d %q", code, msg)
	}
	if n := f.countUsers(t, "v-root-ppolicy-"); n != 1 {
		t.Fatalf("%d ppolicy users exist, want only the first", n)
	}

	if _, err := c.Logical().Delete("sys/policies/password/digits"); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Logical().Read("sys/policies/password/digits"); err != nil || got != nil {
		t.Fatalf("read after delete: %+v, %v", got, err)
	}
}
