package token

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arca-secrets/arca/storage/inmem"
	"github.com/arca-secrets/arca/storage/storagetest"
)

// Token creations do not wait for each other's storage writes, so on
// bbolt they share commits (token-create throughput).
func TestCreationsRunInParallel(t *testing.T) {
	st := storagetest.NewRecorder(inmem.New())
	s, err := Open(context.Background(), Config{Storage: st})
	if err != nil {
		t.Fatal(err)
	}
	st.Hold()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Create(context.Background(), CreateRequest{TTL: time.Hour}); err != nil {
				t.Error(err)
			}
		}()
	}
	parallel := st.WaitHeld(2, 5*time.Second)
	st.Release()
	wg.Wait()
	if !parallel {
		t.Fatal("creations wrote one at a time: they are serialised")
	}
}

// Concurrent creations of one custom ID: exactly one wins.
func TestSameIDCreatedOnce(t *testing.T) {
	s, _ := newStore(t)
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Create(context.Background(), CreateRequest{ID: "s.custom-id-for-the-race", TTL: time.Hour})
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, ErrInvalid):
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d creations of one ID succeeded, want 1", n)
	}
}

// Children created while their parent is revoked either fail or are
// revoked with it: none outlives the parent.
func TestNoChildOutlivesARevokedParent(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	for range 20 {
		parent := create(t, s, CreateRequest{TTL: time.Hour})
		var children []*Entry
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if c, err := s.Create(ctx, CreateRequest{Parent: parent, TTL: time.Hour}); err == nil {
					mu.Lock()
					children = append(children, c)
					mu.Unlock()
				}
			}()
		}
		if err := s.Revoke(ctx, parent); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		for _, c := range children {
			if _, err := s.Lookup(ctx, c.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("a child created beside its parent's revocation survived it: %v", err)
			}
		}
	}
}
