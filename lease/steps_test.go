package lease

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/arca-secrets/arca/internal/clocktest"
	"github.com/arca-secrets/arca/storage/inmem"
	"github.com/arca-secrets/arca/storage/storagetest"
)

// Registering, renewing into another expiry bucket and revoking a lease
// are one storage step each (one fsync on bbolt), indexes included.
func TestLeaseChangesAreOneStepEach(t *testing.T) {
	st := storagetest.NewRecorder(inmem.New())
	c := clocktest.New()
	m := New(Config{Storage: st, Now: c.Now, Revoke: func(context.Context, *Lease) error { return nil }})
	ctx := context.Background()
	step := func(what string, f func() error) {
		t.Helper()
		st.ResetSteps()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if n := st.Steps(); n != 1 {
			t.Fatalf("%s took %d storage steps, want 1", what, n)
		}
	}
	var l *Lease
	step("register", func() (err error) {
		l, err = m.Register(ctx, Lease{Kind: KindSecret, Path: "database/creds/app", TokenAccessor: "acc", Renewable: true}, time.Hour, 0)
		return err
	})
	c.Advance(30 * time.Minute)
	step("renew", func() error { _, err := m.Renew(ctx, l.ID, 2*time.Hour, nil); return err })
	if keys, _ := st.List(ctx, "exp/"); len(keys) != 1 {
		t.Fatalf("renewal left %d expiry buckets, want 1: %v", len(keys), keys)
	}
	step("revoke", func() error { return m.Revoke(ctx, l.ID, false) })
	for _, p := range []string{"id/", "exp/", "tok/"} {
		if keys, _ := st.List(ctx, p); len(keys) != 0 {
			t.Fatalf("revocation left %s%v", p, keys)
		}
	}
}

// Registrations of different leases do not wait for each other's
// storage writes, so on bbolt they share commits.
func TestRegistrationsRunInParallel(t *testing.T) {
	st := storagetest.NewRecorder(inmem.New())
	st.Hold()
	m := New(Config{Storage: st})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := m.Register(context.Background(), Lease{Kind: KindSecret, Path: "p/" + string(rune('a'+i))}, time.Hour, 0); err != nil {
				t.Error(err)
			}
		}()
	}
	parallel := st.WaitHeld(2, 5*time.Second)
	st.Release()
	wg.Wait()
	if !parallel {
		t.Fatal("registrations wrote one at a time: they are serialised")
	}
}
