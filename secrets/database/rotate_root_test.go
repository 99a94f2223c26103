package database

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/arca-secrets/arca/internal/pgtest"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage/inmem"
)

// A rotate-root that stopped after PostgreSQL took the new admin password
// but before Arca stored it (the state a crash there leaves: the old
// password stored, the new one pending) loses nothing: the next use of
// the connection finds the pending password works and keeps it. Real
// PostgreSQL; the crash is reproduced by writing that state.
func TestInterruptedRotateRootIsSettled(t *testing.T) {
	pg := pgtest.Start(t)
	admin, oldPW := pg.NewSuperuser(t)
	st := inmem.New()
	e := newEngine(logical.MountConfig{Storage: st}, time.Hour)
	t.Cleanup(e.Close)
	ctx := context.Background()
	do := func(op logical.Operation, path string, data map[string]any) (*logical.Response, error) {
		return e.HandleRequest(ctx, &logical.Request{Operation: op, Path: path, Data: data, Storage: st, DisplayName: "root"})
	}
	if _, err := do(logical.UpdateOperation, "config/pg", map[string]any{
		"plugin_name": pluginName, "connection_url": pg.TemplateURL(), "username": admin, "password": oldPW, "allowed_roles": "*",
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := do(logical.UpdateOperation, "roles/app", map[string]any{
		"db_name": "pg", "creation_statements": `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'`,
	}); err != nil {
		t.Fatal(err)
	}

	// The interrupted rotation: the database has the new password, the
	// stored configuration the old one and the new one as pending.
	newPW := pgtest.RandomName("rotated")
	if _, err := pg.Connect(t).Exec(ctx, fmt.Sprintf("ALTER ROLE %s WITH PASSWORD '%s'", pgx.Identifier{admin}.Sanitize(), newPW)); err != nil {
		t.Fatal(err)
	}
	c, err := getConfig(ctx, st, "pg")
	if err != nil {
		t.Fatal(err)
	}
	c.PendingPassword = newPW
	if err := putConfig(ctx, st, "pg", c); err != nil {
		t.Fatal(err)
	}
	e.pools.drop("pg")

	if _, err := do(logical.ReadOperation, "creds/app", nil); err != nil {
		t.Fatalf("creds after the interrupted rotation: %v", err)
	}
	c, err = getConfig(ctx, st, "pg")
	if err != nil || c.Password != newPW || c.PendingPassword != "" {
		t.Fatalf("the pending password was not adopted (password is the new one: %v, pending left: %v, %v)", c.Password == newPW, c.PendingPassword != "", err)
	}

	// A pending password that the database does not take changes nothing.
	c.PendingPassword = "not-the-password"
	if err := putConfig(ctx, st, "pg", c); err != nil {
		t.Fatal(err)
	}
	e.pools.drop("pg")
	if _, err := do(logical.ReadOperation, "creds/app", nil); err != nil {
		t.Fatalf("creds with a stale pending password: %v", err)
	}
	if c, _ = getConfig(ctx, st, "pg"); c.Password != newPW {
		t.Fatal("a pending password the database refuses replaced the working one")
	}
}
