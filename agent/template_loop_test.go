package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/arca-secrets/arca/internal/clocktest"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// The loop re-renders when the injected clock passes the static
// interval, and a failing render hands nothing on until it works again.
func TestUnitLoopFollowsTheClock(t *testing.T) {
	c := clocktest.New()
	src := newFakeSource(c)
	src.set("secret/data/app", map[string]any{"v": "1"})
	// recheck: how soon the loop notices the clock moved.
	clk := clock{now: c.Now, recheck: 5 * time.Millisecond}
	r, err := newRenderer(src, clk, time.Minute, []namedTemplate{{name: "t", text: `{{ with secret "secret/data/app" }}{{ .Data.data.v }}{{ end }}`}})
	if err != nil {
		t.Fatal(err)
	}
	outs := make(chan string)
	u := &unit{name: "t", r: r, clock: clk, log: discard, rendered: make(chan struct{}), inbox: newChanges(),
		sink: func(ctx context.Context, out [][]byte) error {
			select {
			case outs <- string(out[0]):
			case <-ctx.Done():
			}
			return nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	ready := make(chan struct{})
	close(ready)
	go func() { defer wg.Done(); u.run(ctx, ready) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	if got := <-outs; got != "1" {
		t.Fatalf("first render: got %q, want 1", got)
	}
	<-u.rendered
	src.set("secret/data/app", map[string]any{"v": "2"})
	c.Advance(time.Minute)
	if got := <-outs; got != "2" {
		t.Fatalf("after the interval: got %q, want 2", got)
	}
	src.mu.Lock()
	src.fail, src.failed = errors.New("unreachable"), make(chan struct{}, 1)
	src.mu.Unlock()
	c.Advance(time.Minute)
	// The failed render hands nothing on, and is retried after a second
	// of the clock; a good one follows once the source answers again.
	<-src.failed
	src.mu.Lock()
	src.fail = nil
	src.secrets["secret/data/app"] = &Secret{Data: map[string]any{"data": map[string]any{"v": "3"}}}
	src.mu.Unlock()
	c.Advance(2 * time.Second)
	if got := <-outs; got != "3" {
		t.Fatalf("after the failure: got %q, want 3", got)
	}
}

// A child that ignores the stop signal is killed after the timeout, and
// started again with its new environment; one that exits by itself ends
// the supervision with its code.
func TestSupervisorRestartAndExit(t *testing.T) {
	// Each child writes its $V into a FIFO, which the test reads: the
	// test knows a child runs without waiting for a guessed time.
	fifo := filepath.Join(t.TempDir(), "seen")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	seen := func() string {
		t.Helper()
		f, err := os.Open(fifo) // until a child opens it to write
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		return strings.TrimSpace(string(b))
	}
	env := make(chan []string)
	s := &supervisor{
		conf: &Exec{Command: []string{"/bin/sh", "-c", `trap "" TERM; echo "$V" > ` + fifo + `; if [ "$V" = exit ]; then exit 3; fi; while :; do sleep 1; done`},
			RestartAlways: true, StopSignal: syscall.SIGTERM, StopTimeout: 50 * time.Millisecond},
		log: discard, env: env, before: func(context.Context) bool { return true },
	}
	done := make(chan error, 1)
	go func() { done <- s.run(context.Background()) }()
	env <- []string{"V=one"}
	if got := seen(); got != "one" {
		t.Fatalf("the first child saw V=%q, want one", got)
	}
	env <- []string{"V=one"} // unchanged: no restart
	env <- []string{"V=exit"}
	// The first child ignores SIGTERM: it is killed, and the second
	// started with the new value.
	if got := seen(); got != "exit" {
		t.Fatalf("the second child saw V=%q, want exit", got)
	}
	var ce *ChildExitError
	if err := <-done; !errors.As(err, &ce) || ce.Code != 3 {
		t.Fatalf("got %v, want the child's exit code 3", err)
	}
}
