package token

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arca-secrets/arca/internal/clocktest"
	"github.com/arca-secrets/arca/storage/inmem"
)

func newStore(t *testing.T) (*Store, *clocktest.Clock) {
	t.Helper()
	c := clocktest.New()
	s, err := Open(context.Background(), Config{Storage: inmem.New(), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func create(t *testing.T, s *Store, req CreateRequest) *Entry {
	t.Helper()
	e, err := s.Create(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestCreateLookup(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	e := create(t, s, CreateRequest{Policies: []string{"b", "a", "b", ""}, TTL: time.Hour, Renewable: true, DisplayName: "x"})
	if e.ID == "" || e.Accessor == "" || len(e.ID) != 26 {
		t.Fatalf("entry: %+v", e)
	}
	got, err := s.Lookup(ctx, e.ID)
	if err != nil || got.Accessor != e.Accessor || len(got.Policies) != 2 || got.Policies[0] != "a" {
		t.Fatalf("lookup: %+v, %v", got, err)
	}
	if _, err := s.Lookup(ctx, e.ID+"x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("wrong token: %v", err)
	}
	byAcc, err := s.LookupAccessor(ctx, e.Accessor)
	if err != nil || byAcc.ID != "" || byAcc.Hash != e.Hash {
		t.Fatalf("lookup accessor: %+v, %v", byAcc, err)
	}
	// The token itself is not in storage.
	raw, _ := s.view.Get(ctx, idPrefix+e.Hash)
	if raw == nil || contains(raw.Value, e.ID) {
		t.Fatal("the stored entry holds the token")
	}
}

func contains(b []byte, s string) bool {
	return len(s) > 0 && string(b) != "" && indexOf(string(b), s) >= 0
}
func indexOf(a, b string) int {
	for i := 0; i+len(b) <= len(a); i++ {
		if a[i:i+len(b)] == b {
			return i
		}
	}
	return -1
}

func TestExpiryAndRenew(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	e := create(t, s, CreateRequest{TTL: time.Hour, ExplicitMaxTTL: 90 * time.Minute, Renewable: true})
	c.Advance(50 * time.Minute)
	r, err := s.Renew(ctx, e, time.Hour)
	if err != nil || r.Remaining(c.Now()) != 40*time.Minute {
		t.Fatalf("renew capped by explicit max: remaining %v, %v; want 40m", r.Remaining(c.Now()), err)
	}
	c.Advance(40 * time.Minute)
	if _, err := s.Lookup(ctx, e.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired token: %v, want ErrNotFound", err)
	}
	if n, err := s.Tidy(ctx); err != nil || n != 1 {
		t.Fatalf("tidy: %d, %v; want 1", n, err)
	}
	if acc, _ := s.Accessors(ctx); len(acc) != 0 {
		t.Fatalf("accessors after tidy: %v", acc)
	}
	nr := create(t, s, CreateRequest{TTL: time.Hour})
	if _, err := s.Renew(ctx, nr, 0); !errors.Is(err, ErrNotRenewable) {
		t.Fatalf("non-renewable: %v", err)
	}
	// A periodic token renews forever, a period at a time.
	p := create(t, s, CreateRequest{Period: time.Hour, Renewable: true})
	for range 30 {
		c.Advance(50 * time.Minute)
		if _, err := s.Renew(ctx, p, 10*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.Lookup(ctx, p.ID); got == nil || got.Remaining(c.Now()) != time.Hour {
		t.Fatalf("periodic token: %+v", got)
	}
}

func TestTreeRevocation(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	root := create(t, s, CreateRequest{Policies: []string{"root"}, NoExpiry: true})
	a := create(t, s, CreateRequest{Parent: root, TTL: time.Hour})
	b := create(t, s, CreateRequest{Parent: a, TTL: time.Hour})
	c := create(t, s, CreateRequest{Parent: b, TTL: time.Hour})
	other := create(t, s, CreateRequest{Parent: root, TTL: time.Hour})
	if err := s.Revoke(ctx, a); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*Entry{a, b, c} {
		if _, err := s.Lookup(ctx, e.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("descendant %s survived its ancestor's revocation", e.Accessor)
		}
	}
	if _, err := s.Lookup(ctx, other.ID); err != nil {
		t.Fatalf("sibling revoked: %v", err)
	}
	// revoke-orphan keeps children, as orphans.
	p := create(t, s, CreateRequest{Parent: root, TTL: time.Hour})
	ch := create(t, s, CreateRequest{Parent: p, TTL: time.Hour})
	if err := s.RevokeOrphan(ctx, p); err != nil {
		t.Fatal(err)
	}
	got, err := s.Lookup(ctx, ch.ID)
	if err != nil || !got.Orphan || got.Parent != "" {
		t.Fatalf("orphaned child: %+v, %v", got, err)
	}
	// A child cannot outlive its parent.
	short := create(t, s, CreateRequest{TTL: time.Minute})
	long := create(t, s, CreateRequest{Parent: short, TTL: time.Hour})
	if !long.ExpireTime.Equal(short.ExpireTime) {
		t.Fatalf("child expires %v after parent %v", long.ExpireTime, short.ExpireTime)
	}
}

func TestUseLimit(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	e := create(t, s, CreateRequest{TTL: time.Hour, NumUses: 5})
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.Use(ctx, e) == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 5 {
		t.Fatalf("%d uses succeeded, want 5", ok.Load())
	}
	if _, err := s.Lookup(ctx, e.ID); !errors.Is(err, ErrNotFound) {
		t.Fatal("exhausted token still valid")
	}
	limited := create(t, s, CreateRequest{TTL: time.Hour, NumUses: 2})
	if _, err := s.Create(ctx, CreateRequest{Parent: limited}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("child of a limited token: %v, want ErrInvalid", err)
	}
}

func TestRevokeByMountAndOnRevoke(t *testing.T) {
	var revoked []string
	s, err := Open(context.Background(), Config{Storage: inmem.New(), BeforeRevoke: func(_ context.Context, es []*Entry) []error {
		for _, e := range es {
			revoked = append(revoked, e.Accessor)
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	a := create(t, s, CreateRequest{MountAccessor: "userpass_1"})
	create(t, s, CreateRequest{MountAccessor: "approle_1"})
	n, err := s.RevokeByMount(context.Background(), "userpass_1")
	if err != nil || n != 1 || len(revoked) != 1 || revoked[0] != a.Accessor {
		t.Fatalf("revoke by mount: %d %v %v", n, err, revoked)
	}
}

func TestBatchTokens(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	parent := create(t, s, CreateRequest{TTL: 2 * time.Hour})
	b, err := s.CreateBatch(ctx, CreateRequest{Parent: parent, Policies: []string{"app"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !IsBatch(b.ID) || b.Accessor != "" {
		t.Fatalf("batch entry: %+v", b)
	}
	// Nothing is stored for it.
	if acc, _ := s.Accessors(ctx); len(acc) != 1 {
		t.Fatalf("accessors: %v; a batch token must not be stored", acc)
	}
	got, err := s.Lookup(ctx, b.ID)
	if err != nil || got.Type != "batch" || got.Policies[0] != "app" {
		t.Fatalf("lookup: %+v, %v", got, err)
	}
	// Tampering with any character breaks it.
	for i := 2; i < len(b.ID); i += 7 {
		bad := []byte(b.ID)
		bad[i] ^= 1
		if _, err := s.Lookup(ctx, string(bad)); err == nil {
			t.Fatalf("tampered batch token (byte %d) accepted", i)
		}
	}
	if _, err := s.Renew(ctx, got, 0); !errors.Is(err, ErrNotRenewable) {
		t.Fatalf("renew batch: %v", err)
	}
	if err := s.Revoke(ctx, got); !errors.Is(err, ErrInvalid) {
		t.Fatalf("revoke batch: %v", err)
	}
	if _, err := s.Create(ctx, CreateRequest{Parent: got}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("child of batch: %v", err)
	}
	// It dies with its parent, and at its TTL.
	if err := s.Revoke(ctx, parent); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(ctx, b.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("batch token after parent revoked: %v", err)
	}
	orphan, err := s.CreateBatch(ctx, CreateRequest{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Minute)
	if _, err := s.Lookup(ctx, orphan.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired batch token: %v", err)
	}
}

// TestBatchTokenOfDisabledMount: batch tokens cannot be found to revoke,
// so disabling their auth mount makes them stop working; checked while
// lookups run concurrently (-race).
func TestBatchTokenOfDisabledMount(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	b, err := s.CreateBatch(ctx, CreateRequest{TTL: time.Hour, MountAccessor: "userpass_x"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				_, _ = s.Lookup(ctx, b.ID)
			}
		}()
	}
	if _, err := s.RevokeByMount(ctx, "userpass_x"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if _, err := s.Lookup(ctx, b.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("batch token of a disabled mount: %v", err)
	}
}
