package database

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/arca-secrets/arca/internal/clocktest"
	"github.com/arca-secrets/arca/internal/pgtest"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage/inmem"
)

// A static role is rotated when the mount's clock says its period is up,
// not before, and the next period counts from that rotation; the creds'
// ttl is read on the same clock. Real PostgreSQL; the schedule's ticker is
// an hour long, so each tick is made by calling rotateDue as it would.
func TestStaticRoleRotatesOnTheMountsClock(t *testing.T) {
	pg := pgtest.Start(t)
	admin, adminPW := pg.NewSuperuser(t)
	user := pgtest.RandomName("svc")
	ctx := context.Background()
	if _, err := pg.Connect(t).Exec(ctx, fmt.Sprintf("CREATE ROLE %s WITH LOGIN PASSWORD 'initial'", pgx.Identifier{user}.Sanitize())); err != nil {
		t.Fatal(err)
	}
	clock := clocktest.New()
	st := inmem.New()
	e := newEngine(logical.MountConfig{Storage: st, Now: clock.Now}, time.Hour)
	t.Cleanup(e.Close)
	do := func(op logical.Operation, path string, data map[string]any) map[string]any {
		t.Helper()
		resp, err := e.HandleRequest(ctx, &logical.Request{Operation: op, Path: path, Data: data, Storage: st, DisplayName: "root"})
		if err != nil {
			t.Fatalf("%s %s: %v", op, path, err)
		}
		if resp == nil {
			return nil
		}
		return resp.Data
	}
	do(logical.UpdateOperation, "config/pg", map[string]any{
		"plugin_name": pluginName, "connection_url": pg.TemplateURL(), "username": admin, "password": adminPW, "allowed_roles": "*",
	})
	do(logical.UpdateOperation, "static-roles/svc", map[string]any{"db_name": "pg", "username": user, "rotation_period": "1h"})
	creds := func(when string, wantTTL int64) string {
		t.Helper()
		d := do(logical.ReadOperation, "static-creds/svc", nil)
		if d["ttl"] != wantTTL {
			t.Fatalf("%s: got ttl %v, want %d", when, d["ttl"], wantTTL)
		}
		return d["password"].(string)
	}
	logsIn := func(password string) bool {
		c, err := pgx.Connect(ctx, pg.URLFor(user, password))
		if err != nil {
			return false
		}
		c.Close(ctx)
		return true
	}

	first := creds("after creation", 3600)
	clock.Advance(time.Hour - time.Second)
	e.rotateDue(ctx, st)
	if got := creds("a second before the period", 1); got != first {
		t.Fatal("rotated before the period was up")
	}
	clock.Advance(time.Second)
	e.rotateDue(ctx, st)
	second := creds("at the period", 3600)
	if second == first || !logsIn(second) || logsIn(first) {
		t.Fatalf("scheduled rotation: new password differs %v, logs in %v; old still logs in %v", second != first, logsIn(second), logsIn(first))
	}
	if got, want := do(logical.ReadOperation, "static-roles/svc", nil)["last_vault_rotation"], clock.Now().Format(time.RFC3339Nano); got != want {
		t.Fatalf("last_vault_rotation: got %v, want %s (the clock at the rotation)", got, want)
	}
	clock.Advance(time.Hour - time.Second)
	e.rotateDue(ctx, st)
	if got := creds("a second before the next period", 1); got != second {
		t.Fatal("rotated again before the next period was up")
	}
}
