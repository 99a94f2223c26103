package agent

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/arca-secrets/arca/internal/clocktest"
)

// TestMaxStaleWindow: with kv_ttl 5s and max_stale 30s, a read the server
// cannot answer is served from the cache until 30s past the TTL, to the
// second, with its age and staleness, then refused with a 503; another
// identity never gets it.
func TestMaxStaleWindow(t *testing.T) {
	clk := clocktest.New()
	c := newKVCache(5*time.Second, 30*time.Second, newClock(clk.Now))
	const uri = "/v1/secret/data/app"
	c.put("alice", uri, &reply{status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: []byte(`{"data":{"v":1}}`)})

	for _, tc := range []struct {
		name      string
		after     time.Duration // since the server's answer
		who       string
		served    bool // false: nothing written
		status    int
		stale     string
		age       string
		bodyMatch string
	}{
		{name: "within the TTL, a failed forward is served", after: 2 * time.Second, who: "alice", served: true, status: 200, stale: "0s", age: "2", bodyMatch: `"v":1`},
		{name: "just past the TTL", after: 6 * time.Second, who: "alice", served: true, status: 200, stale: "1s", age: "6", bodyMatch: `"v":1`},
		{name: "max_stale-1s past the TTL", after: 34 * time.Second, who: "alice", served: true, status: 200, stale: "29s", age: "34", bodyMatch: `"v":1`},
		{name: "exactly max_stale past the TTL", after: 35 * time.Second, who: "alice", served: true, status: 200, stale: "30s", age: "35", bodyMatch: `"v":1`},
		{name: "max_stale+1s past the TTL", after: 36 * time.Second, who: "alice", served: true, status: 503, age: "36", bodyMatch: "older than max_stale"},
		{name: "another identity has nothing cached", after: 10 * time.Second, who: "mallory", served: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk.Set(clocktest.Start.Add(tc.after))
			w := httptest.NewRecorder()
			if got := serveStale(w, c, tc.who, uri); got != tc.served {
				t.Fatalf("served: got %v, want %v", got, tc.served)
			}
			if !tc.served {
				if w.Body.Len() != 0 || len(w.Header()) != 0 {
					t.Fatalf("wrote %q %v for an identity with nothing cached", w.Body.String(), w.Header())
				}
				return
			}
			if w.Code != tc.status {
				t.Fatalf("status: got %d, want %d", w.Code, tc.status)
			}
			if got := w.Header().Get(StaleHeader); got != tc.stale {
				t.Fatalf("%s: got %q, want %q", StaleHeader, got, tc.stale)
			}
			if got := w.Header().Get("Age"); got != tc.age {
				t.Fatalf("Age: got %q, want %q", got, tc.age)
			}
			if !strings.Contains(w.Body.String(), tc.bodyMatch) {
				t.Fatalf("body: got %q, want it to contain %q", w.Body.String(), tc.bodyMatch)
			}
		})
	}
}

// TestMaxStaleZeroServesNothing: without max_stale (the default), an
// outage is answered as before, not from the cache.
func TestMaxStaleZeroServesNothing(t *testing.T) {
	clk := clocktest.New()
	c := newKVCache(5*time.Second, 0, newClock(clk.Now))
	c.put("alice", "/v1/secret/data/app", &reply{status: 200, body: []byte(`{}`)})
	clk.Advance(time.Second)
	if serveStale(httptest.NewRecorder(), c, "alice", "/v1/secret/data/app") {
		t.Fatal("served stale with max_stale 0")
	}
}

func TestServerDown(t *testing.T) {
	for _, tc := range []struct {
		name string
		rep  *reply
		err  error
		down bool
	}{
		{"connection refused", nil, errors.New("dial tcp: connection refused"), true},
		{"sealed", &reply{status: 503}, nil, true},
		{"bad gateway", &reply{status: 502}, nil, true},
		{"timeout", &reply{status: 504}, nil, true},
		{"a refusal is an answer", &reply{status: 403}, nil, false},
		{"an internal error is an answer", &reply{status: 500}, nil, false},
		{"ok", &reply{status: 200}, nil, false},
	} {
		if got := serverDown(tc.rep, tc.err); got != tc.down {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.down)
		}
	}
	for _, tc := range []struct {
		name string
		err  error
		down bool
	}{
		{"unreachable", errors.New("connection refused"), true},
		{"sealed", &serverError{status: 503}, true},
		{"refused", &serverError{status: 403}, false},
		{"not authenticated yet", errNotReady, false},
	} {
		if got := loginDown(tc.err); got != tc.down {
			t.Errorf("login %s: got %v, want %v", tc.name, got, tc.down)
		}
	}
}

func TestCacheConfig(t *testing.T) {
	base := `arca { address = "https://arca:8200" }
auto_auth { method "approle" { config = { role_id_file_path = "/r" } } }
` + listenerLine + "\n"
	c, err := ParseConfig(base + `cache { kv_ttl = "5s"  max_stale = "10m" }`)
	if err != nil || c.KVCacheTTL != 5*time.Second || c.MaxStale != 10*time.Minute {
		t.Fatalf("got %v, %v; want kv_ttl 5s, max_stale 10m", c, err)
	}
	c, err = ParseConfig(base + `cache { kv_ttl = "5s" }`)
	if err != nil || c.MaxStale != 0 {
		t.Fatalf("default max_stale: got %v, %v; want 0", c, err)
	}
	for _, tc := range []struct{ name, text, want string }{
		{"unknown key", `cache { kv_ttl = "5s"  stale_if_error = "1m" }`, `cache: unknown key "stale_if_error"`},
		{"bad duration", `cache { kv_ttl = "5s"  max_stale = "soon" }`, "cache.max_stale must be a duration"},
		{"negative", `cache { kv_ttl = "5s"  max_stale = "-1s" }`, "cache.max_stale must be a duration"},
		{"too long", `cache { kv_ttl = "5s"  max_stale = "25h" }`, "cache.max_stale must be a duration"},
		{"without a cache", `cache { max_stale = "1m" }`, "needs cache.kv_ttl"},
	} {
		_, err := ParseConfig(base + tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// A fresh answer from the cache says its age too (Age, as Vault Agent's
// cache does).
func TestCachedAnswerAge(t *testing.T) {
	clk := clocktest.New()
	c := newKVCache(5*time.Second, 0, newClock(clk.Now))
	rep := &reply{status: 200, body: []byte(`{}`)}
	c.put("alice", "/v1/secret/data/app", rep)
	clk.Advance(3*time.Second + 400*time.Millisecond)
	got, age := c.getAged("alice", "/v1/secret/data/app")
	if got != rep || age != 3*time.Second+400*time.Millisecond {
		t.Fatalf("got %v aged %s, want the entry aged 3.4s", got, age)
	}
	w := httptest.NewRecorder()
	setAge(w, age)
	if got := w.Header().Get("Age"); got != "3" {
		t.Fatalf("Age: got %q, want %q", got, "3")
	}
}

// TestCacheLetsAnswersGo: an answer past any use (TTL and max_stale gone)
// is dropped from memory at the next use of the cache, not kept until its
// key is read again; past max_stale it still reads as "too old".
func TestCacheLetsAnswersGo(t *testing.T) {
	clk := clocktest.New()
	c := newKVCache(5*time.Second, 30*time.Second, newClock(clk.Now))
	c.put("alice", "/v1/secret/data/app", &reply{status: 200, body: []byte(`{"data":{"v":1}}`)})
	clk.Advance(36 * time.Second)
	c.put("bob", "/v1/secret/data/other", &reply{status: 200, body: []byte(`{}`)})
	c.mu.Lock()
	e, ok := c.m["alice"]["/v1/secret/data/app"]
	c.mu.Unlock()
	if !ok || e.rep != nil {
		t.Fatalf("past max_stale: entry kept=%v with its answer=%v; want kept without it", ok, ok && e.rep != nil)
	}
	if _, st, _, _ := c.stale("alice", "/v1/secret/data/app"); st != pastMaxStale {
		t.Fatalf("past max_stale reads as %v", st)
	}
	clk.Advance(time.Minute)
	c.put("bob", "/v1/secret/data/other", &reply{status: 200, body: []byte(`{}`)})
	c.mu.Lock()
	_, ok = c.m["alice"]
	c.mu.Unlock()
	if ok {
		t.Fatal("an identity whose answers are all past use is still in the cache")
	}
}
