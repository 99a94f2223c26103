package token

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/arca-secrets/arca/storage/inmem"
	"github.com/arca-secrets/arca/storage/storagetest"
)

// A batch of trees goes in a few storage steps, children before parents;
// a token whose cleanup fails stays with every token above it (none
// outlives its parent), while its siblings and the other trees go; the
// cleanup runs once per token and AfterRevoke hears of exactly the tokens
// gone.
func TestRevokeAccessorsBatch(t *testing.T) {
	ctx := context.Background()
	st := storagetest.NewRecorder(inmem.New())
	var stuck string
	var before, after []string
	s, err := Open(ctx, Config{
		Storage: st,
		BeforeRevoke: func(_ context.Context, es []*Entry) []error {
			errs := make([]error, len(es))
			for i, e := range es {
				before = append(before, e.Accessor)
				if e.Accessor == stuck {
					errs[i] = errors.New("its database is down")
				}
			}
			return errs
		},
		AfterRevoke: func(_ context.Context, es []*Entry) error {
			for _, e := range es {
				after = append(after, e.Accessor)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Tree A: parent -> {child1 -> grandchild, child2}; then 300 single tokens.
	parent := create(t, s, CreateRequest{TTL: time.Hour})
	child1 := create(t, s, CreateRequest{TTL: time.Hour, Parent: parent})
	child2 := create(t, s, CreateRequest{TTL: time.Hour, Parent: parent})
	grandchild := create(t, s, CreateRequest{TTL: time.Hour, Parent: child1})
	accs := []string{parent.Accessor}
	for range 300 {
		accs = append(accs, create(t, s, CreateRequest{TTL: time.Hour}).Accessor)
	}
	accs = append(accs, "no-such-accessor", "", "a/b")
	stuck = grandchild.Accessor
	st.ResetSteps()
	errs := s.RevokeAccessors(ctx, accs)
	if errs[0] == nil {
		t.Fatal("the tree with a token that could not be cleaned up reported no error")
	}
	if len(errs) != len(accs) {
		t.Fatalf("%d errors for %d accessors", len(errs), len(accs))
	}
	for i, err := range errs[1:] {
		if err != nil {
			t.Fatalf("accessor %d: %v", i+1, err)
		}
	}
	if n := st.Steps(); n > 2 {
		t.Fatalf("304 tokens revoked in %d storage steps, want at most 2", n)
	}
	if len(before) != 304 || len(after) != 301 {
		t.Fatalf("cleanup ran for %d tokens and AfterRevoke heard of %d, want 304 and 301", len(before), len(after))
	}
	for _, e := range []*Entry{parent, child1, grandchild} {
		if _, err := s.Lookup(ctx, e.ID); err != nil {
			t.Fatalf("token %s above or at the stuck one was revoked: %v", e.Accessor, err)
		}
	}
	if _, err := s.Lookup(ctx, child2.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("sibling of the stuck token: %v, want revoked", err)
	}
	if left, _ := s.Accessors(ctx); len(left) != 3 {
		t.Fatalf("accessors left: %d, want 3", len(left))
	}
	// Once the cleanup works, the rest of the tree goes.
	stuck = ""
	if err := s.RevokeAccessor(ctx, parent.Accessor); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"id/", "accessor/", "parent/"} {
		if keys, _ := st.List(ctx, p); len(keys) != 0 {
			t.Fatalf("revocation left %s%v", p, keys)
		}
	}
}

// Tidy revokes expired tokens in batches: 2,000 expired ones go in a
// handful of storage steps, the live one stays.
func TestTidyInBatches(t *testing.T) {
	ctx := context.Background()
	st := storagetest.NewRecorder(inmem.New())
	s, err := Open(ctx, Config{Storage: st, Now: func() time.Time { return time.Unix(1_000_000, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		if _, err := s.Create(ctx, CreateRequest{TTL: time.Minute, DisplayName: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	s.now = func() time.Time { return time.Unix(1_000_000, 0).Add(time.Hour) }
	live := create(t, s, CreateRequest{TTL: 2 * time.Hour})
	st.ResetSteps()
	n, err := s.Tidy(ctx)
	if err != nil || n != 2000 {
		t.Fatalf("tidy: %d, %v; want 2000", n, err)
	}
	if steps := st.Steps(); steps > 4 {
		t.Fatalf("tidy of 2,000 tokens took %d storage steps", steps)
	}
	if _, err := s.Lookup(ctx, live.ID); err != nil {
		t.Fatalf("live token after tidy: %v", err)
	}
}
