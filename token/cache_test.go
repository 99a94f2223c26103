package token

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Entries served from the cache follow every change: renewal, use counts,
// revocation; and what a caller does to a returned entry does not leak
// into the next lookup.
func TestCachedEntriesFollowChanges(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	e := create(t, s, CreateRequest{Policies: []string{"app"}, TTL: time.Hour, Renewable: true, NumUses: 3, Meta: map[string]string{"k": "v"}})
	first, err := s.Lookup(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	first.Policies[0] = "root"
	first.Meta["k"] = "changed"
	again, err := s.Lookup(ctx, e.ID)
	if err != nil || again.Policies[0] != "app" || again.Meta["k"] != "v" {
		t.Fatalf("a caller's change leaked into the cache: %+v, %v", again, err)
	}

	c.Advance(30 * time.Minute)
	if _, err := s.Renew(ctx, again, time.Hour); err != nil {
		t.Fatal(err)
	}
	renewed, _ := s.Lookup(ctx, e.ID)
	if !renewed.ExpireTime.Equal(c.Now().Add(time.Hour).UTC()) {
		t.Fatalf("lookup after renewal shows expiry %v, want %v", renewed.ExpireTime, c.Now().Add(time.Hour))
	}

	if err := s.Use(ctx, renewed); err != nil {
		t.Fatal(err)
	}
	if used, _ := s.Lookup(ctx, e.ID); used.NumUses != 2 {
		t.Fatalf("lookup after a use shows %d uses left, want 2", used.NumUses)
	}

	if err := s.Revoke(ctx, renewed); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(ctx, e.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a revoked token still looks up from the cache: %v", err)
	}
}

// Lookups racing a revocation: once Revoke has returned, no lookup
// succeeds, however the reads and the cache interleaved.
func TestNoLookupSucceedsAfterRevocation(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	for range 50 {
		e := create(t, s, CreateRequest{TTL: time.Hour})
		var revoked atomic.Bool
		// before and after count the lookups that began before and after
		// the revocation, so the test waits on them rather than on time.
		var before, after atomic.Int64
		var failed atomic.Bool
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					late := revoked.Load()
					_, err := s.Lookup(ctx, e.ID)
					if !late {
						before.Add(1)
						continue
					}
					after.Add(1)
					if err == nil {
						failed.Store(true)
					}
				}
			}()
		}
		waitFor(func() bool { return before.Load() >= 8 })
		if err := s.Revoke(ctx, e); err != nil {
			t.Fatal(err)
		}
		revoked.Store(true)
		waitFor(func() bool { return after.Load() >= 8 })
		close(stop)
		wg.Wait()
		if failed.Load() {
			t.Fatal("a lookup that began after the revocation succeeded")
		}
	}
}

// waitFor yields until cond holds.
func waitFor(cond func() bool) {
	for !cond() {
		runtime.Gosched()
	}
}
