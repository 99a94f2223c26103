package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"
)

// A credential from creds/ logs in with the role's grants (and no more),
// carries a renewable lease whose renewal moves VALID UNTIL, and is
// dropped, its open session ended, when the lease is revoked.
func TestDatabaseDynamicCredentials(t *testing.T) {
	f := newDBFixture(t)
	ctx := context.Background()
	user, pw, s := f.creds(t, "readonly")
	if !strings.HasPrefix(s.LeaseID, "database/creds/readonly/") || s.LeaseDuration != 3600 || !s.Renewable {
		t.Fatalf("lease: id %q duration %d renewable %v", s.LeaseID, s.LeaseDuration, s.Renewable)
	}
	if !strings.HasPrefix(user, "v-root-readonly-") || len(user) > 63 || len(pw) < 20 {
		t.Fatalf("username %q (%d chars), password of %d chars", user, len(user), len(pw))
	}
	conn, err := f.login(user, pw)
	if err != nil {
		t.Fatalf("the credential does not log in: %v", err)
	}
	var v string
	if err := conn.QueryRow(ctx, "SELECT v FROM "+f.table).Scan(&v); err != nil || v != "hello" {
		t.Fatalf("select with the role's grant: %q, %v", v, err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO "+f.table+" VALUES ('x')"); err == nil {
		t.Fatal("insert succeeded: the credential has more than the role's grants")
	}

	validUntil := func() time.Time {
		var at time.Time
		if err := f.pg.Connect(t).QueryRow(ctx, "SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1", user).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	before := validUntil()
	if d := time.Until(before); d < 55*time.Minute || d > 61*time.Minute {
		t.Fatalf("VALID UNTIL is %s away, want about an hour", d)
	}
	renewed, err := f.root.Sys().Renew(s.LeaseID, 7200)
	if err != nil || renewed.LeaseDuration < 7100 {
		t.Fatalf("renew: %+v, %v", renewed, err)
	}
	if after := validUntil(); after.Sub(before) < 55*time.Minute {
		t.Fatalf("renewal moved VALID UNTIL by %s, want about an hour", after.Sub(before))
	}

	if err := f.root.Sys().Revoke(s.LeaseID); err != nil {
		t.Fatal(err)
	}
	if f.roleExists(t, user) {
		t.Fatal("the role still exists after its lease was revoked")
	}
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(new(int)); err == nil {
		t.Fatal("the credential's open session survived revocation")
	}
	if c, err := f.login(user, pw); err == nil {
		c.Close(ctx)
		t.Fatal("a revoked credential still logs in")
	}
}

// revoke-prefix database/creds/ drops every issued user at once, and a
// credential whose lease runs out is dropped by the expiry worker.
func TestDatabaseRevokePrefixAndExpiry(t *testing.T) {
	f := newDBFixture(t)
	var users []string
	for range 3 {
		u, _, _ := f.creds(t, "readonly")
		users = append(users, u)
	}
	if err := f.root.Sys().RevokePrefix("database/creds/"); err != nil {
		t.Fatal(err, f.proc.output())
	}
	for _, u := range users {
		if f.roleExists(t, u) {
			t.Fatalf("%s survived revoke-prefix", u)
		}
	}

	f.write(t, "database/roles/short", map[string]any{
		"db_name":             "pg",
		"creation_statements": `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'`,
		"default_ttl":         "2s",
		"max_ttl":             "2s",
	})
	user, pw, s := f.creds(t, "short")
	if s.LeaseDuration != 2 {
		t.Fatalf("lease_duration %d, want 2", s.LeaseDuration)
	}
	if c, err := f.login(user, pw); err != nil {
		t.Fatalf("fresh credential: %v", err)
	} else {
		c.Close(context.Background())
	}
	f.waitGone(t, user, 15*time.Second)
	if c, err := f.login(user, pw); err == nil {
		c.Close(context.Background())
		t.Fatal("an expired credential logs in")
	}
	if _, err := f.root.Sys().Lookup(s.LeaseID); statusOf(err) != 400 {
		t.Fatalf("lease lookup after expiry: %v", err)
	}
}

// Bad input gets a clear error and leaves nothing behind.
func TestDatabaseBadInput(t *testing.T) {
	f := newDBFixture(t)
	cases := []struct {
		path string
		data map[string]any
		read bool
		code int
		want string
	}{
		{path: "database/creds/nosuch", read: true, code: 400, want: "unknown role: nosuch"},
		{path: "database/config/x", data: map[string]any{"plugin_name": "mysql-database-plugin", "connection_url": "postgres://h/db"}, code: 400, want: "plugin_name must be"},
		{path: "database/config/x", data: map[string]any{"plugin_name": "postgresql-database-plugin"}, code: 400, want: "connection_url is required"},
		{path: "database/config/x", data: map[string]any{"plugin_name": "postgresql-database-plugin", "connection_url": f.pg.TemplateURL(), "username": f.admin, "password": "wrong-password"}, code: 502, want: `database "x": verifying the connection`},
		{path: "database/roles/r", data: map[string]any{"creation_statements": "SELECT 1"}, code: 400, want: "db_name is required"},
		{path: "database/roles/r", data: map[string]any{"db_name": "pg"}, code: 400, want: "creation_statements are required"},
		{path: "database/roles/r", data: map[string]any{"db_name": "pg", "creation_statements": "SELECT 1", "default_ttl": "2h", "max_ttl": "1h"}, code: 400, want: "default_ttl cannot be greater"},
		{path: "database/static-roles/s", data: map[string]any{"db_name": "pg", "username": `x"; DROP TABLE t; --`, "rotation_period": "1h"}, code: 400, want: "username may hold only"},
		{path: "database/static-roles/s", data: map[string]any{"db_name": "pg", "username": "postgres", "rotation_period": "1s"}, code: 400, want: "rotation_period"},
	}
	for _, c := range cases {
		var err error
		if c.read {
			_, err = f.root.Logical().Read(c.path)
		} else {
			_, err = f.root.Logical().Write(c.path, c.data)
		}
		if statusOf(err) != c.code || !strings.Contains(errText(err), c.want) {
			t.Errorf("%s: got %v, want %d %q", c.path, err, c.code, c.want)
		}
		if strings.Contains(errText(err), "wrong-password") {
			t.Errorf("%s: the error shows the password", c.path)
		}
	}
	if s, err := f.root.Logical().Read("database/config/x"); err != nil || s != nil {
		t.Fatalf("a refused config was stored: %+v, %v", s, err)
	}

	// A role the connection does not allow.
	f.write(t, "database/roles/other", map[string]any{"db_name": "pg", "creation_statements": "SELECT 1"})
	if _, err := f.root.Logical().Read("database/creds/other"); statusOf(err) != 400 || !strings.Contains(errText(err), `"other" is not in the allowed_roles of database "pg"`) {
		t.Fatalf("disallowed role: %v", err)
	}

	// Bad SQL: the error names the statement; the transaction leaves no user.
	f.write(t, "database/roles/bad", map[string]any{"db_name": "pg", "creation_statements": []string{
		`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}'`,
		`SELEKT 1`,
	}})
	_, err := f.root.Logical().Read("database/creds/bad")
	if statusOf(err) != 502 || !strings.Contains(errText(err), "creation_statements[1] failed") || !strings.Contains(errText(err), "SQLSTATE 42601") {
		t.Fatalf("bad SQL: %v", err)
	}
	var n int
	if err := f.pg.Connect(t).QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'v-root-bad-%'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d users left by a failed creation (%v)", n, err)
	}
	if list, err := f.root.Logical().List("sys/leases/lookup/database/creds/bad"); err != nil || list != nil {
		t.Fatalf("a failed creation left a lease: %+v, %v", list, err)
	}
}

// rotate-root gives the admin a password only Arca knows: the old one no
// longer logs in, and the engine keeps working with the new one. The
// config never shows a password.
func TestDatabaseRotateRoot(t *testing.T) {
	f := newDBFixture(t)
	f.write(t, "database/rotate-root/pg", nil)
	if c, err := f.login(f.admin, f.pass); err == nil {
		c.Close(context.Background())
		t.Fatal("the old admin password still logs in after rotate-root")
	}
	user, pw, _ := f.creds(t, "readonly")
	if c, err := f.login(user, pw); err != nil {
		t.Fatalf("creds after rotate-root: %v", err)
	} else {
		c.Close(context.Background())
	}
	s, err := f.root.Logical().Read("database/config/pg")
	if err != nil || s == nil {
		t.Fatal(err)
	}
	if out := fmt.Sprint(s.Data); strings.Contains(out, f.pass) || strings.Contains(out, "password:") {
		t.Fatalf("config read shows a password: %s", out)
	}
	if s.Data["plugin_name"] != "postgresql-database-plugin" || fmt.Sprint(s.Data["allowed_roles"]) != "[readonly short bad]" {
		t.Fatalf("config read: %+v", s.Data)
	}
}

// A static role's password is set at creation, rotates on demand and on
// schedule, and each old password stops working.
func TestDatabaseStaticRole(t *testing.T) {
	f := newDBFixture(t)
	ctx := context.Background()
	svc := "svc_" + strings.TrimPrefix(f.table, "app_data_")
	if _, err := f.pg.Connect(t).Exec(ctx, fmt.Sprintf(`CREATE ROLE %q WITH LOGIN PASSWORD 'initial-password'`, svc)); err != nil {
		t.Fatal(err)
	}
	f.write(t, "database/config/pg", map[string]any{"allowed_roles": "*"})
	f.write(t, "database/static-roles/svc", map[string]any{"db_name": "pg", "username": svc, "rotation_period": "5s"})
	if c, err := f.login(svc, "initial-password"); err == nil {
		c.Close(ctx)
		t.Fatal("the password from before Arca managed the user still works")
	}
	read := func() (string, time.Time) {
		s, err := f.root.Logical().Read("database/static-creds/svc")
		if err != nil || s == nil {
			t.Fatal(err)
		}
		at, _ := time.Parse(time.RFC3339Nano, s.Data["last_vault_rotation"].(string))
		if s.Data["username"] != svc {
			t.Fatalf("static-creds username %v", s.Data["username"])
		}
		return s.Data["password"].(string), at
	}
	works := func(pw string) bool {
		c, err := f.login(svc, pw)
		if err == nil {
			c.Close(ctx)
		}
		return err == nil
	}
	first, firstAt := read()
	if !works(first) {
		t.Fatal("the static password does not log in")
	}
	f.write(t, "database/rotate-role/svc", nil)
	second, _ := read()
	if second == first || !works(second) || works(first) {
		t.Fatalf("rotate-role: new differs %v, new works %v, old works %v", second != first, works(second), works(first))
	}
	// On schedule: within a period (5s) and the tick, a third password.
	var third string
	var at time.Time
	if !eventually(15*time.Second, func() bool {
		third, at = read()
		return third != second
	}) {
		t.Fatal("no scheduled rotation within 15s of a 5s period")
	}
	if !works(third) || works(second) || !at.After(firstAt) {
		t.Fatalf("scheduled rotation: new works %v, old works %v", works(third), works(second))
	}
	s, err := f.root.Logical().Read("database/static-roles/svc")
	if err != nil || fmt.Sprint(s.Data["rotation_period"]) != "5" || strings.Contains(fmt.Sprint(s.Data), second) {
		t.Fatalf("static role read: %+v, %v", s, err)
	}
}

// A database that is down gives creds/ a clear error, and a revocation
// that cannot reach it keeps the lease and is retried until it can.
func TestDatabaseDownRetriesRevocation(t *testing.T) {
	pgAddr := ""
	var proxy *tcpProxy
	f := newDBFixtureWith(t, func(host string) string {
		pgAddr = host
		proxy = newTCPProxy(t, pgAddr)
		return proxy.addr
	})
	user, _, s := f.creds(t, "readonly")
	proxy.cut()
	_, err := f.root.Logical().Read("database/creds/readonly")
	if statusOf(err) != 502 || !strings.Contains(errText(err), `database "pg"`) || strings.Contains(errText(err), f.pass) {
		t.Fatalf("creds while the database is down: %v", err)
	}
	if err := f.root.Sys().Revoke(s.LeaseID); err == nil {
		t.Fatal("revocation reported success while the database was down")
	}
	if l, err := f.root.Sys().Lookup(s.LeaseID); err != nil || l == nil {
		t.Fatalf("the lease was lost after a failed revocation: %v", err)
	}
	if !f.roleExists(t, user) {
		t.Fatal("the user is gone although the database was unreachable")
	}
	proxy.restore(t)
	// Retried with backoff (5s first); the user goes without another call.
	f.waitGone(t, user, 30*time.Second)
	if !eventually(10*time.Second, func() bool {
		_, err = f.root.Sys().Lookup(s.LeaseID)
		return statusOf(err) == 400
	}) {
		t.Fatalf("the lease outlived its successful retry: lookup: %v", err)
	}
}

// Credentials follow the token that asked for them and the mount that
// issued them: revoking the token drops its users, and disabling the
// engine drops every user it still has out.
func TestDatabaseLeasesFollowTokenAndMount(t *testing.T) {
	f := newDBFixture(t)
	if err := f.root.Sys().PutPolicy("creds", `path "database/creds/readonly" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	tok, err := f.root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"creds"}})
	if err != nil {
		t.Fatal(err)
	}
	app := tokenClient(t, f.root, tok.Auth.ClientToken)
	s, err := app.Logical().Read("database/creds/readonly")
	if err != nil {
		t.Fatal(err)
	}
	user := s.Data["username"].(string)
	if err := f.root.Auth().Token().RevokeTree(tok.Auth.ClientToken); err != nil {
		t.Fatal(err)
	}
	if f.roleExists(t, user) {
		t.Fatal("the user outlived the token that asked for it")
	}
	other, _, _ := f.creds(t, "readonly")
	if err := f.root.Sys().Unmount("database"); err != nil {
		t.Fatal(err)
	}
	if f.roleExists(t, other) {
		t.Fatal("the user outlived the engine that issued it")
	}
}
