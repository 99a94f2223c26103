package lease

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arca-secrets/arca/internal/clocktest"
	"github.com/arca-secrets/arca/storage/inmem"
)

func newManager(t testing.TB, revoke RevokeFunc) (*Manager, *clocktest.Clock) {
	c := clocktest.New()
	return New(Config{Storage: inmem.New(), Revoke: revoke, Now: c.Now}), c
}

func TestRegisterRenewExpire(t *testing.T) {
	var revoked []string
	m, c := newManager(t, func(_ context.Context, l *Lease) error { revoked = append(revoked, l.ID); return nil })
	ctx := context.Background()
	l, err := m.Register(ctx, Lease{Kind: KindSecret, Path: "database/creds/app", Renewable: true}, time.Hour, 90*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Lookup(ctx, l.ID)
	if err != nil || got.TTL(c.Now()) != time.Hour {
		t.Fatalf("lookup: %+v, %v", got, err)
	}
	c.Advance(50 * time.Minute)
	r, err := m.Renew(ctx, l.ID, time.Hour, nil)
	if err != nil || r.TTL(c.Now()) != 40*time.Minute {
		t.Fatalf("renew capped at max: %v, %v", r.TTL(c.Now()), err)
	}
	c.Advance(39 * time.Minute)
	if n, err := m.ExpireDue(ctx); err != nil || n != 0 {
		t.Fatalf("before expiry: %d, %v", n, err)
	}
	c.Advance(2 * time.Minute)
	if n, err := m.ExpireDue(ctx); err != nil || n != 1 || len(revoked) != 1 {
		t.Fatalf("at expiry: %d, %v, revoked %v", n, err, revoked)
	}
	if _, err := m.Lookup(ctx, l.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired lease still there: %v", err)
	}
	if keys, _ := m.st.List(ctx, "exp/"); len(keys) != 0 {
		t.Fatalf("index left behind: %v", keys)
	}
}

func TestFailedRevocationIsRetriedNotLost(t *testing.T) {
	fail := true
	calls := 0
	m, c := newManager(t, func(context.Context, *Lease) error {
		calls++
		if fail {
			return errors.New("database is down")
		}
		return nil
	})
	ctx := context.Background()
	l, _ := m.Register(ctx, Lease{Kind: KindSecret, Path: "db/creds/x"}, time.Minute, 0)
	c.Advance(2 * time.Minute)
	if _, err := m.ExpireDue(ctx); !errors.Is(err, ErrRetry) {
		t.Fatalf("failing revoke: got %v, want ErrRetry", err)
	}
	got, err := m.Lookup(ctx, l.ID)
	if err != nil || got.Attempts != 1 || got.RetryAt.IsZero() {
		t.Fatalf("lease after a failed revoke: %+v, %v", got, err)
	}
	// Not retried before the backoff, retried after it.
	if _, _ = m.ExpireDue(ctx); calls != 1 {
		t.Fatalf("retried before the backoff: %d calls", calls)
	}
	fail = false
	c.Advance(time.Minute)
	if n, err := m.ExpireDue(ctx); err != nil || n != 1 {
		t.Fatalf("retry: %d, %v", n, err)
	}
	if _, err := m.Lookup(ctx, l.ID); !errors.Is(err, ErrNotFound) {
		t.Fatal("lease still there after a successful retry")
	}
}

func TestRevokePrefixAndForce(t *testing.T) {
	m, _ := newManager(t, func(_ context.Context, l *Lease) error {
		if l.Path == "stuck/creds" {
			return errors.New("cannot reach backend")
		}
		return nil
	})
	ctx := context.Background()
	for i := range 50 {
		path := "auth/approle/login"
		if i%2 == 1 {
			path = "auth/userpass/login/bob"
		}
		if _, err := m.Register(ctx, Lease{Kind: KindToken, Path: path, TokenAccessor: fmt.Sprint("acc", i)}, time.Hour, 0); err != nil {
			t.Fatal(err)
		}
	}
	n, err := m.RevokePrefix(ctx, "auth/approle/login", false, nil)
	if err != nil || n != 25 {
		t.Fatalf("revoke-prefix: %d, %v; want 25", n, err)
	}
	if rest, _ := m.List(ctx, "auth/userpass/login/bob"); len(rest) != 25 {
		t.Fatalf("other leases touched: %d left, want 25", len(rest))
	}
	stuck, _ := m.Register(ctx, Lease{Kind: KindSecret, Path: "stuck/creds"}, time.Hour, 0)
	if _, err := m.RevokePrefix(ctx, "stuck", false, nil); !errors.Is(err, ErrRetry) {
		t.Fatalf("stuck backend: %v", err)
	}
	if _, err := m.Lookup(ctx, stuck.ID); err != nil {
		t.Fatal("a lease whose revocation failed was lost")
	}
	if n, err := m.RevokePrefix(ctx, "stuck", true, nil); err != nil || n != 1 {
		t.Fatalf("revoke-force: %d, %v", n, err)
	}
	if _, err := m.RevokePrefix(ctx, "", false, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty prefix: %v", err)
	}
}

func TestRevokeByToken(t *testing.T) {
	var revoked atomic.Int64
	m, _ := newManager(t, func(context.Context, *Lease) error { revoked.Add(1); return nil })
	ctx := context.Background()
	for range 3 {
		_, _ = m.Register(ctx, Lease{Kind: KindSecret, Path: "db/creds/a", TokenAccessor: "tokA"}, time.Hour, 0)
	}
	_, _ = m.Register(ctx, Lease{Kind: KindSecret, Path: "db/creds/b", TokenAccessor: "tokB"}, time.Hour, 0)
	if errs := m.RevokeByTokens(ctx, []string{"tokA"}); errs[0] != nil || revoked.Load() != 3 {
		t.Fatalf("revoke by token: %v, %d revoked", errs, revoked.Load())
	}
}

// BenchmarkRevokePrefix100k measures revoke-prefix of 100,000 leases on
// in-memory storage (the issuer's revoke is a no-op).
func BenchmarkRevokePrefix100k(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		m, _ := newManager(b, func(context.Context, *Lease) error { return nil })
		ctx := context.Background()
		for i := range 100_000 {
			if _, err := m.Register(ctx, Lease{Kind: KindToken, Path: "auth/approle/login", TokenAccessor: fmt.Sprint(i)}, time.Hour, 0); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		n, err := m.RevokePrefix(ctx, "auth/approle/login", false, nil)
		if err != nil || n != 100_000 {
			b.Fatalf("%d, %v", n, err)
		}
	}
}
