package lease

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/inmem"
)

// countingBackend counts storage steps (Put, Delete and WriteAll are one
// each) and can hold writes until released, to see how many are in
// flight at once.
type countingBackend struct {
	*inmem.Backend
	steps    atomic.Int64
	inFlight atomic.Int64
	peak     atomic.Int64
	gate     chan struct{} // nil: writes go through at once
}

func (b *countingBackend) enter() func() {
	b.steps.Add(1)
	n := b.inFlight.Add(1)
	for {
		p := b.peak.Load()
		if n <= p || b.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if b.gate != nil {
		<-b.gate
	}
	return func() { b.inFlight.Add(-1) }
}

func (b *countingBackend) Put(ctx context.Context, e *storage.Entry) error {
	defer b.enter()()
	return b.Backend.Put(ctx, e)
}

func (b *countingBackend) Delete(ctx context.Context, key string) error {
	defer b.enter()()
	return b.Backend.Delete(ctx, key)
}

func (b *countingBackend) WriteAll(ctx context.Context, puts []*storage.Entry, deletes []string) error {
	defer b.enter()()
	return b.Backend.WriteAll(ctx, puts, deletes)
}

// Registering, renewing into another expiry bucket and revoking a lease
// are one storage step each (one fsync on bbolt), indexes included.
func TestLeaseChangesAreOneStepEach(t *testing.T) {
	st := &countingBackend{Backend: inmem.New()}
	c := &clock{}
	c.t.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	m := New(Config{Storage: st, Now: c.now, Revoke: func(context.Context, *Lease) error { return nil }})
	ctx := context.Background()
	step := func(what string, f func() error) {
		t.Helper()
		st.steps.Store(0)
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if n := st.steps.Load(); n != 1 {
			t.Fatalf("%s took %d storage steps, want 1", what, n)
		}
	}
	var l *Lease
	step("register", func() (err error) {
		l, err = m.Register(ctx, Lease{Kind: KindSecret, Path: "database/creds/app", TokenAccessor: "acc", Renewable: true}, time.Hour, 0)
		return err
	})
	c.advance(30 * time.Minute)
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
	st := &countingBackend{Backend: inmem.New(), gate: make(chan struct{})}
	m := New(Config{Storage: st})
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := m.Register(context.Background(), Lease{Kind: KindSecret, Path: "p/" + string(rune('a'+i))}, time.Hour, 0); err != nil {
				t.Error(err)
			}
		}()
	}
	// Wait until at least two writes are held at once, then let all go.
	deadline := time.Now().Add(5 * time.Second)
	for st.peak.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(st.gate)
	wg.Wait()
	if p := st.peak.Load(); p < 2 {
		t.Fatalf("at most %d registration wrote at a time: they are serialised", p)
	}
}
