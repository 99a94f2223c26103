package agent

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"
)

// A server without sys/events (an older Arca, a Vault without events)
// answers 404: the agent says so and keeps polling, it does not retry
// every few hundred milliseconds.
func TestWatcherServerWithoutEvents(t *testing.T) {
	var asked string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = r.URL.Path + "?" + r.URL.RawQuery
		http.Error(w, `{"errors":["unsupported path"]}`, http.StatusNotFound)
	}))
	defer srv.Close()
	w := &watcher{up: &upstream{base: srv.URL, client: srv.Client()}, auth: &autoAuth{token: "t"}, log: slog.New(slog.DiscardHandler), clock: newClock(nil)}
	connected, err := w.session(context.Background())
	if connected || !errors.Is(err, errNoEvents) {
		t.Fatalf("got connected=%v err=%v, want errNoEvents", connected, err)
	}
	if asked != "/v1/sys/events/subscribe/*?json=true" {
		t.Fatalf("asked %q", asked)
	}
}

// An event makes due exactly the secrets it concerns: a read of its path
// (or its data path), the lease it revoked, a list under its mount.
func TestRendererInvalidate(t *testing.T) {
	later := time.Now().Add(time.Hour)
	mk := func() *renderer {
		return &renderer{deps: map[string]*dep{
			"app":   {path: "secret/data/app", refetchAt: later},
			"App":   {path: "secret/data/App", refetchAt: later},
			"appx":  {path: "secret/data/app/x", refetchAt: later},
			"list":  {path: "secret/metadata/", list: true, refetchAt: later},
			"creds": {path: "database/creds/ro", secret: &Secret{LeaseID: "database/creds/ro/L1"}, refetchAt: later, renewAt: later},
		}}
	}
	due := func(r *renderer) map[string]bool {
		out := map[string]bool{}
		for k, d := range r.deps {
			if d.refetchAt.IsZero() {
				out[k] = true
			}
		}
		return out
	}
	tests := []struct {
		name string
		c    change
		want []string
	}{
		{"data write", change{path: "secret/data/app", dataPath: "secret/data/app", mount: "secret/"}, []string{"app", "list"}},
		{"soft delete", change{path: "secret/delete/app", dataPath: "secret/data/app", mount: "secret/"}, []string{"app", "list"}},
		{"other lease under the same path", change{path: "database/creds/ro", leaseID: "database/creds/ro/L2", mount: "database/"}, nil},
		{"its lease", change{path: "database/creds/ro", leaseID: "database/creds/ro/L1", mount: "database/"}, []string{"creds"}},
		{"other mount", change{path: "kv/app", mount: "kv/"}, nil},
		{"resync", change{all: true}, []string{"app", "App", "appx", "list", "creds"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mk()
			r.invalidate(tt.c)
			got := due(r)
			if len(got) != len(tt.want) {
				t.Fatalf("due: got %v, want %v", got, tt.want)
			}
			for _, k := range tt.want {
				if !got[k] {
					t.Fatalf("due: got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// An event drops the cached reads of its path, for every identity, and
// nothing else; a resync drops everything.
func TestCacheForgetChange(t *testing.T) {
	c := newKVCache(time.Hour, 0, newClock(nil))
	rep := &reply{status: 200}
	c.put("a", "/v1/secret/data/app", rep)
	c.put("b", "/v1/secret/data/app?version=1", rep)
	c.put("a", "/v1/secret/data/app2", rep)
	if !c.forgetChange(change{path: "secret/delete/app", dataPath: "secret/data/app"}) {
		t.Fatal("dropping two reads said nothing was dropped: no collection would free them")
	}
	if c.get("a", "/v1/secret/data/app") != nil || c.get("b", "/v1/secret/data/app?version=1") != nil {
		t.Fatal("a changed path is still cached")
	}
	if c.get("a", "/v1/secret/data/app2") == nil {
		t.Fatal("an unchanged path was dropped")
	}
	if c.forgetChange(change{path: "secret/data/other"}) {
		t.Fatal("a change of an uncached path said it dropped something")
	}
	if !c.forgetChange(change{all: true}) {
		t.Fatal("a resync that dropped a read said nothing was dropped")
	}
	if c.get("a", "/v1/secret/data/app2") != nil {
		t.Fatal("a resync kept a cached read")
	}
	var none *kvCache
	if none.forgetChange(change{all: true}) { // no cache: nothing to do
		t.Fatal("no cache, yet something was dropped")
	}
}

// A burst of drops makes one collection, due collectDelay after the
// first; a drop after it has started asks for another.
func TestCollectorCoalesces(t *testing.T) {
	var due []func()
	var delays []time.Duration
	runs := 0
	c := &collector{
		after: func(d time.Duration, f func()) { delays, due = append(delays, d), append(due, f) },
		run:   func() { runs++ },
	}
	for range 100 {
		c.soon()
	}
	if len(due) != 1 || delays[0] != collectDelay {
		t.Fatalf("100 drops scheduled %d collections (delays %v), want one after %v", len(due), delays, collectDelay)
	}
	due[0]()
	if runs != 1 {
		t.Fatalf("%d collections ran, want 1", runs)
	}
	c.soon()
	if len(due) != 2 {
		t.Fatal("a drop after the collection started scheduled none: what it dropped would stay in the heap")
	}
}

// Without replacements the collector really collects, within its delay.
func TestCollectorCollects(t *testing.T) {
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	c := &collector{delay: time.Millisecond}
	c.soon()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var now runtime.MemStats
		runtime.ReadMemStats(&now)
		if now.NumForcedGC > before.NumForcedGC {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no collection was forced after a drop")
		}
		runtime.Gosched()
	}
}
