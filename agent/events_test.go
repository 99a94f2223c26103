package agent

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
	c.forgetChange(change{path: "secret/delete/app", dataPath: "secret/data/app"})
	if c.get("a", "/v1/secret/data/app") != nil || c.get("b", "/v1/secret/data/app?version=1") != nil {
		t.Fatal("a changed path is still cached")
	}
	if c.get("a", "/v1/secret/data/app2") == nil {
		t.Fatal("an unchanged path was dropped")
	}
	c.forgetChange(change{all: true})
	if c.get("a", "/v1/secret/data/app2") != nil {
		t.Fatal("a resync kept a cached read")
	}
	var none *kvCache
	none.forgetChange(change{all: true}) // no cache: nothing to do
}
