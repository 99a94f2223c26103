package lease

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arca-secrets/arca/internal/clocktest"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/inmem"
	"github.com/arca-secrets/arca/storage/storagetest"
)

// revoke-prefix of 3,000 leases, a tenth of whose issuers fail, takes a
// storage step per batch for the removals (plus one per failure, which
// records the retry), keeps exactly the failed leases with a retry
// scheduled, hands token leases to RevokeTokens in batches, and reports
// progress after each batch; Removed hears of every lease removed, token
// leases included, and of none kept for a retry.
func TestRevokePrefixInBatches(t *testing.T) {
	ctx := context.Background()
	st := storagetest.NewRecorder(inmem.New())
	c := clocktest.New()
	var mu sync.Mutex
	var tokenCalls, tokens int
	removed := map[string]string{} // id -> path
	m := New(Config{
		Storage: st, Now: c.Now,
		Removed: func(l *Lease) {
			mu.Lock()
			defer mu.Unlock()
			removed[l.ID] = l.Path
		},
		Revoke: func(_ context.Context, l *Lease) error {
			if strings.HasSuffix(l.Path, "/down") {
				return errors.New("database is down")
			}
			return nil
		},
		RevokeTokens: func(_ context.Context, accs []string) []error {
			mu.Lock()
			defer mu.Unlock()
			tokenCalls++
			tokens += len(accs)
			return make([]error, len(accs))
		},
	})
	const n = 3000
	for i := range n {
		l := Lease{Kind: KindSecret, Path: "db/creds/up"}
		switch {
		case i%10 == 0:
			l.Path = "db/creds/down"
		case i%2 == 0:
			l = Lease{Kind: KindToken, Path: "db/creds/login", TokenAccessor: fmt.Sprint("acc", i)}
		}
		if _, err := m.Register(ctx, l, time.Hour, 0); err != nil {
			t.Fatal(err)
		}
	}
	var reports []int
	st.ResetSteps()
	done, err := m.RevokePrefix(ctx, "db/creds", false, func(n int) { reports = append(reports, n) })
	if !errors.Is(err, ErrRetry) || done != n-n/10 {
		t.Fatalf("revoke-prefix: %d revoked, %v; want %d and ErrRetry", done, err, n-n/10)
	}
	batches := (n + batchSize - 1) / batchSize
	if steps := int(st.Steps()); steps > batches+n/10 {
		t.Fatalf("%d storage steps for %d batches and %d failures", steps, batches, n/10)
	}
	if len(reports) != batches || reports[len(reports)-1] != done {
		t.Fatalf("progress reports %v, want %d ending at %d", reports, batches, done)
	}
	if tokenCalls > batches || tokens != n*4/10 {
		t.Fatalf("RevokeTokens: %d calls for %d tokens; want at most %d calls for %d", tokenCalls, tokens, batches, n*4/10)
	}
	left, _ := m.List(ctx, "db/creds/down")
	if len(left) != n/10 {
		t.Fatalf("%d failed leases kept, want %d", len(left), n/10)
	}
	for _, id := range left {
		l, err := m.Lookup(ctx, "db/creds/down/"+id)
		if err != nil || l.Attempts != 1 || l.RetryAt.IsZero() {
			t.Fatalf("kept lease: %+v, %v; want one attempt and a retry", l, err)
		}
	}
	for _, p := range []string{"db/creds/up", "db/creds/login"} {
		if rest, _ := m.List(ctx, p); len(rest) != 0 {
			t.Fatalf("%d leases left under %s", len(rest), p)
		}
	}
	byPath := map[string]int{}
	for _, p := range removed {
		byPath[p]++
	}
	if len(removed) != done || byPath["db/creds/login"] != n*4/10 || byPath["db/creds/down"] != 0 {
		t.Fatalf("Removed heard %d leases by path %v; want %d, %d of them token leases, none kept", len(removed), byPath, done, n*4/10)
	}
}

// A renewal racing the revocation of its lease never writes the lease
// back: after both, the lease is gone, whichever came first.
func TestRenewRacingRevokePrefix(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t, func(context.Context, *Lease) error { return nil })
	var ids []string
	for range 500 {
		l, err := m.Register(ctx, Lease{Kind: KindSecret, Path: "db/creds/x", Renewable: true}, time.Hour, 0)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, l.ID)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(ids); i += 4 {
				_, err := m.Renew(ctx, ids[i], time.Hour, func(_ *Lease, exp time.Time) (time.Time, error) { return exp, nil })
				if err != nil && !errors.Is(err, ErrNotFound) {
					t.Errorf("renew: %v", err)
				}
			}
		}()
	}
	if _, err := m.RevokePrefix(ctx, "db/creds/x", false, nil); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for _, p := range []string{"id/db/creds/x/", "tok/"} {
		if rest, _ := m.st.List(ctx, p); len(rest) != 0 {
			t.Fatalf("%d keys left under %s: a renewal wrote a lease back", len(rest), p)
		}
	}
}

// failingRemovals is storage whose multi-key deletions fail, as if the
// process died before the removal of a batch reached the disk.
type failingRemovals struct{ *inmem.Backend }

func (f failingRemovals) WriteAll(ctx context.Context, puts []*storage.Entry, deletes []string) error {
	if len(deletes) > 0 {
		return errors.New("disk gone")
	}
	return storage.WriteAll(ctx, f.Backend, puts, nil)
}

// Leases are removed only after their tokens are revoked: when the
// removal does not reach storage, every lease is still there to be
// revoked again (a token already gone is no error the second time).
func TestRemovalAfterRevocation(t *testing.T) {
	ctx := context.Background()
	st := failingRemovals{inmem.New()}
	revoked := map[string]bool{}
	m := New(Config{Storage: st, RevokeTokens: func(_ context.Context, accs []string) []error {
		for _, a := range accs {
			revoked[a] = true
		}
		return make([]error, len(accs))
	}})
	for i := range 100 {
		if _, err := m.Register(ctx, Lease{Kind: KindToken, Path: "auth/approle/login", TokenAccessor: fmt.Sprint("acc", i)}, time.Hour, 0); err != nil {
			t.Fatal(err)
		}
	}
	n, err := m.RevokePrefix(ctx, "auth/approle/login", false, nil)
	if err == nil || n != 0 {
		t.Fatalf("revoke-prefix with removals failing: %d revoked, %v; want 0 and an error", n, err)
	}
	if len(revoked) != 100 {
		t.Fatalf("%d tokens revoked, want 100", len(revoked))
	}
	if left, _ := m.List(ctx, "auth/approle/login"); len(left) != 100 {
		t.Fatalf("%d leases left after a failed removal, want all 100", len(left))
	}
}
