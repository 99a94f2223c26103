package core

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arca-secrets/arca/secmem"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/inmem"
)

// hookedStorage calls onDelete before each delete it passes on.
type hookedStorage struct {
	storage.Backend
	mu       sync.Mutex
	onDelete func(key string)
}

func (h *hookedStorage) Delete(ctx context.Context, key string) error {
	h.mu.Lock()
	f := h.onDelete
	h.mu.Unlock()
	if f != nil {
		f(key)
	}
	return h.Backend.Delete(ctx, key)
}

func (h *hookedStorage) hook(f func(key string)) {
	h.mu.Lock()
	h.onDelete = f
	h.mu.Unlock()
}

// TestRewrapLosesNothingToASeal: Rewrap unwraps (revoking the old
// wrapping token) and wraps again, each under the state lock but not
// under one hold of it. A seal that lands between the two must not
// destroy the wrapped response: afterwards either the old token or a new
// one still unwraps it. The seal is made to land there: while Unwrap
// revokes the old token, a seal is started and the revoke waits until
// that seal is queued on the state lock, so it runs as soon as Unwrap
// lets go and before Rewrap's Wrap can take the lock.
func TestRewrapLosesNothingToASeal(t *testing.T) {
	ctx := context.Background()
	st := &hookedStorage{Backend: inmem.New()}
	c := New(Config{Storage: st, StorageType: "inmem", Memory: secmem.BestEffort})
	res, err := c.Init(ctx, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Unseal(ctx, res.Shares[0]); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Seal(ctx) })
	info, err := c.Wrap(ctx, []byte(`{"data":{"secret":"s"}}`), time.Minute, "sys/wrapping/wrap", "")
	if err != nil {
		t.Fatal(err)
	}

	sealed := make(chan error, 1)
	var once sync.Once
	st.hook(func(key string) {
		if !strings.HasPrefix(key, tokenStorePrefix) {
			return
		}
		once.Do(func() {
			go func() { sealed <- c.Seal(ctx) }()
			// This goroutine holds the state lock for reading (inside
			// Unwrap): TryRLock fails once the seal waits for it.
			for c.stateLock.TryRLock() {
				c.stateLock.RUnlock()
				runtime.Gosched()
			}
		})
	})
	newInfo, rerr := c.Rewrap(ctx, info.Token)
	st.hook(nil)
	if err := <-sealed; err != nil {
		t.Fatal(err)
	}
	if _, err := c.Unseal(ctx, res.Shares[0]); err != nil {
		t.Fatal(err)
	}
	if rerr == nil {
		if _, err := c.Unwrap(ctx, newInfo.Token); err != nil {
			t.Errorf("Rewrap succeeded, but its new token does not unwrap: %v", err)
		}
		return
	}
	if !errors.Is(rerr, ErrSealed) {
		t.Errorf("Rewrap across a seal: %v, want ErrSealed", rerr)
	}
	if _, err := c.Unwrap(ctx, info.Token); err != nil {
		t.Errorf("Rewrap failed (%v) and the old wrapping token no longer unwraps (%v): the wrapped response is lost", rerr, err)
	}
}
