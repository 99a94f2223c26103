package core_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/logical"
)

// TestSealRacingCoreCalls: in process, workers serve requests through
// the pipeline (engine paths and sys handlers that call back into core)
// and call the wrapping methods directly, while another goroutine seals
// and unseals. Nothing panics or deadlocks, every error says sealed (or
// permission denied for a token revoked meanwhile), and afterwards every
// call succeeds.
func TestSealRacingCoreCalls(t *testing.T) {
	ctx := context.Background()
	c, key, root := devCore(t, core.Config{})
	if _, err := c.HandleRequest(ctx, root, &logical.Request{Operation: logical.UpdateOperation, Path: "secret/data/app",
		Data: map[string]any{"data": map[string]any{"k": "v"}}}); err != nil {
		t.Fatal(err)
	}
	sys := func(path string, h core.SysHandler) error {
		return c.ServeSys(ctx, &core.Request{Operation: logical.UpdateOperation, Path: path, Token: root}, h)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"kv read", func() error {
			_, err := c.HandleRequest(ctx, root, &logical.Request{Operation: logical.ReadOperation, Path: "secret/data/app"})
			return err
		}},
		{"kv write", func() error {
			_, err := c.HandleRequest(ctx, root, &logical.Request{Operation: logical.UpdateOperation, Path: "secret/data/app",
				Data: map[string]any{"data": map[string]any{"k": "v"}}})
			return err
		}},
		{"token lookup-self", func() error {
			_, err := c.HandleRequest(ctx, root, &logical.Request{Operation: logical.ReadOperation, Path: "auth/token/lookup-self"})
			return err
		}},
		{"sys mounts", func() error {
			return sys("sys/mounts", func(ctx context.Context, _ *core.Call) (map[string]any, error) {
				_, err := c.Mounts(ctx, "")
				return nil, err
			})
		}},
		{"sys ui mount", func() error {
			return sys("sys/internal/ui/mounts/secret", func(ctx context.Context, _ *core.Call) (map[string]any, error) {
				_, err := c.MountInfo(ctx, "secret/data/app")
				return nil, err
			})
		}},
		{"sys policies", func() error {
			return sys("sys/policies/acl", func(ctx context.Context, _ *core.Call) (map[string]any, error) {
				_, err := c.PolicyNames(ctx)
				return nil, err
			})
		}},
		{"sys capabilities-self", func() error {
			return sys("sys/capabilities-self", func(ctx context.Context, call *core.Call) (map[string]any, error) {
				_, err := c.Capabilities(ctx, call.Caller.Token, []string{"secret/data/app"})
				return nil, err
			})
		}},
		{"sys leases", func() error {
			return sys("sys/leases/lookup", func(ctx context.Context, _ *core.Call) (map[string]any, error) {
				_, err := c.LeaseList(ctx, "auth/")
				return nil, err
			})
		}},
		{"wrap, rewrap, lookup, unwrap", func() error {
			info, err := c.Wrap(ctx, []byte(`{}`), time.Minute, "sys/wrapping/wrap", "")
			if err != nil {
				return err
			}
			rewrapped := false
			if info2, err := c.Rewrap(ctx, info.Token); err == nil {
				info, rewrapped = info2, true
			} else if !sealedErr(err) {
				return err
			}
			_, err = c.WrapLookup(ctx, info.Token)
			if err == nil || sealedErr(err) {
				_, err = c.Unwrap(ctx, info.Token)
			}
			if !rewrapped && errors.Is(err, core.ErrInvalidWrapping) {
				// A seal between Rewrap's unwrap and its wrap loses the
				// response: TestRewrapLosesNothingToASeal shows it
				// deterministically; here it would only make this test
				// fail by chance.
				return nil
			}
			return err
		}},
		{"sys rotate", func() error {
			return sys("sys/rotate", func(ctx context.Context, _ *core.Call) (map[string]any, error) {
				_, err := c.Rotate(ctx)
				return nil, err
			})
		}},
	}

	const workers, rounds = 4, 30
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		bad     []string
		sealed  int
		stop    = make(chan struct{})
		started = make(chan struct{})
		done    = make(chan int)
		// served receives a token for each call that succeeded: the sealer
		// waits for a few between an unseal and the next seal, so that the
		// seal lands among calls in flight, not among refusals only.
		served = make(chan struct{}, 64)
	)
	go func() {
		cycles := 0
		defer func() { done <- cycles }()
		for {
			if err := c.Seal(ctx); err != nil {
				t.Error(err)
				return
			}
			for len(served) > 0 {
				<-served
			}
			if _, err := c.Unseal(ctx, key); err != nil {
				t.Error(err)
				return
			}
			if cycles++; cycles == 1 {
				close(started)
			}
			for range 3 {
				select {
				case <-served:
				case <-stop:
					return
				}
			}
		}
	}()
	<-started
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds * len(calls) {
				cl := calls[(i+w)%len(calls)]
				err := noPanic(cl.call)
				mu.Lock()
				switch {
				case err == nil:
					select {
					case served <- struct{}{}:
					default:
					}
				case sealedErr(err):
					sealed++
				default:
					bad = append(bad, fmt.Sprintf("%s: %v", cl.name, err))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(stop)
	cycles := <-done
	t.Logf("%d seal/unseal cycles, %d of %d calls refused as sealed", cycles, sealed, workers*rounds*len(calls))
	for _, b := range bad {
		t.Error(b)
	}
	if c.Sealed() {
		t.Fatal("the sealer left the core sealed")
	}
	for _, cl := range calls {
		if err := noPanic(cl.call); err != nil {
			t.Errorf("after the race, %s: %v", cl.name, err)
		}
	}
}

// sealedErr reports whether err says the core, or the barrier under a
// method that checked before it was sealed, is sealed: both are 503.
func sealedErr(err error) bool {
	return errors.Is(err, core.ErrSealed) || errors.Is(err, barrier.ErrSealed)
}
