package assemble

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/secmem"
	"github.com/arca-secrets/arca/storage/inmem"
)

// flakySeal unseals by itself with a key it holds; each Unwrap takes the
// next error of fails until they run out.
type flakySeal struct {
	key   []byte
	mu    sync.Mutex
	fails []error
}

func (*flakySeal) Type() string                 { return "flaky-test" }
func (*flakySeal) AutoUnseal() bool             { return true }
func (*flakySeal) Health(context.Context) error { return nil }

func (s *flakySeal) Wrap(_ context.Context, root []byte, _ seal.Split) ([]byte, [][]byte, error) {
	w, err := barrier.SealWithKey(s.key, "flaky", root)
	return w, nil, err
}

func (s *flakySeal) Unwrap(_ context.Context, w []byte, _ [][]byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.fails) > 0 {
		err := s.fails[0]
		s.fails = s.fails[1:]
		return nil, err
	}
	return barrier.OpenWithKey(s.key, "flaky", w)
}

func newFlakyCore(t *testing.T, fails ...error) (*core.Core, *flakySeal, *bytes.Buffer) {
	t.Helper()
	s := &flakySeal{key: make([]byte, barrier.KeySize), fails: fails}
	if _, err := rand.Read(s.key); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	c := core.New(core.Config{Storage: inmem.New(), StorageType: "inmem", Memory: secmem.BestEffort, Seal: s, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	return c, s, &logs
}

// recordWaits is a wait that returns at once and records the pauses asked
// for; after each pause it calls then (when set).
func recordWaits(waits *[]time.Duration, then func()) func(context.Context, time.Duration) bool {
	return func(_ context.Context, d time.Duration) bool {
		*waits = append(*waits, d)
		if then != nil {
			then()
		}
		return true
	}
}

func TestAutoUnsealRetriesWhileUnavailable(t *testing.T) {
	ctx := context.Background()
	unavailable := fmt.Errorf("%w: token not present", seal.ErrUnavailable)
	c, _, logs := newFlakyCore(t, unavailable, unavailable, unavailable, unavailable, unavailable)
	if _, err := c.InitWith(ctx, core.InitParams{}); err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	a := &autoUnsealer{core: c, log: slog.New(slog.NewTextHandler(logs, nil)), first: time.Second, max: 4 * time.Second, initPoll: time.Second}
	a.wait = recordWaits(&waits, func() {
		if !c.Sealed() {
			t.Error("unsealed while the seal was unavailable")
		}
	})
	a.run(ctx)
	if c.Sealed() {
		t.Fatal("still sealed once the seal came back")
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}
	if diff := cmp.Diff(want, waits); diff != "" {
		t.Fatalf("pauses (-want +got):\n%s", diff)
	}
	if !strings.Contains(logs.String(), "token not present") {
		t.Fatalf("the log does not say why:\n%s", logs)
	}
}

func TestAutoUnsealStopsOnWhatRetryingCannotMend(t *testing.T) {
	ctx := context.Background()
	refused := errors.New("the token refused the PIN")
	c, _, logs := newFlakyCore(t, refused, refused)
	if _, err := c.InitWith(ctx, core.InitParams{}); err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	a := &autoUnsealer{core: c, log: slog.New(slog.NewTextHandler(logs, nil)), first: time.Second, max: time.Minute, initPoll: time.Second}
	a.wait = recordWaits(&waits, nil)
	a.run(ctx)
	if !c.Sealed() || len(waits) != 0 {
		t.Fatalf("sealed=%v after %d pauses; want sealed after one try", c.Sealed(), len(waits))
	}
	if !strings.Contains(logs.String(), "refused the PIN") || !strings.Contains(logs.String(), "not retrying") {
		t.Fatalf("the log does not say why:\n%s", logs)
	}
}

func TestAutoUnsealWaitsForInit(t *testing.T) {
	ctx := context.Background()
	c, _, logs := newFlakyCore(t)
	var waits []time.Duration
	a := &autoUnsealer{core: c, log: slog.New(slog.NewTextHandler(logs, nil)), first: time.Second, max: time.Minute, initPoll: 250 * time.Millisecond}
	a.wait = recordWaits(&waits, func() {
		if len(waits) == 3 {
			if _, err := c.InitWith(ctx, core.InitParams{}); err != nil {
				t.Error(err)
			}
		}
	})
	a.run(ctx)
	if c.Sealed() || len(waits) != 3 {
		t.Fatalf("sealed=%v after %d pauses; want unsealed after 3", c.Sealed(), len(waits))
	}
	if n := strings.Count(logs.String(), "not initialised"); n != 1 {
		t.Fatalf("said %d times that the server is not initialised, want once:\n%s", n, logs)
	}
}

func TestAutoUnsealStopsWithTheServer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	unavailable := fmt.Errorf("%w: down", seal.ErrUnavailable)
	c, _, logs := newFlakyCore(t, unavailable, unavailable)
	if _, err := c.InitWith(ctx, core.InitParams{}); err != nil {
		t.Fatal(err)
	}
	a := newAutoUnsealer(c, slog.New(slog.NewTextHandler(logs, nil)))
	done := make(chan struct{})
	go func() { a.run(ctx); close(done) }()
	cancel()
	<-done
}
