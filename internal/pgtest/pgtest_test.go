package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The harness gives a server that a new superuser can log in to with its
// password, and refuses a wrong password (scram, not trust).
func TestServerAuthenticatesNewSuperuser(t *testing.T) {
	s := Start(t)
	name, password := s.NewSuperuser(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.URLFor(name, password))
	if err != nil {
		t.Fatalf("new superuser cannot log in: %v", err)
	}
	var super bool
	if err := conn.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil || !super {
		t.Fatalf("rolsuper = %v, %v", super, err)
	}
	conn.Close(ctx)
	if c, err := pgx.Connect(ctx, s.URLFor(name, password+"x")); err == nil {
		c.Close(ctx)
		t.Fatal("a wrong password logged in: the server does not check passwords")
	}
}
