package agent

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAllowList(t *testing.T) {
	for _, c := range []struct {
		name, method, path string
		want               passage
	}{
		{"kv read", "GET", "secret/data/app", forwarded},
		{"kv list", "LIST", "secret/metadata/", forwarded},
		{"kv write", "PUT", "secret/data/app", forwarded},
		{"transit", "POST", "transit/encrypt/k", forwarded},
		{"dynamic creds", "GET", "database/creds/readonly", forwarded},
		{"lookup-self", "GET", "auth/token/lookup-self", lookupSelf},
		{"health", "GET", "sys/health", forwarded},
		{"lease renew", "PUT", "sys/leases/renew", forwarded},
		{"kv preflight", "GET", "sys/internal/ui/mounts/secret/app", forwarded},
		{"kv preflight, write", "POST", "sys/internal/ui/mounts/secret", refused},
		{"every mount", "GET", "sys/internal/ui/mounts", refused},
		{"workload login", "POST", "auth/workload/login", refused},
		{"approle login", "POST", "auth/approle/login", refused},
		{"token create", "POST", "auth/token/create", refused},
		{"token create, odd case", "POST", "Auth/token/create", refused},
		{"renew-self", "POST", "auth/token/renew-self", refused},
		{"revoke-self", "POST", "auth/token/revoke-self", refused},
		{"lookup-self, delete", "DELETE", "auth/token/lookup-self", refused},
		{"wrap", "POST", "sys/wrapping/wrap", refused},
		{"unwrap", "POST", "sys/wrapping/unwrap", refused},
		{"policies", "PUT", "sys/policies/acl/x", refused},
		{"sys, odd case", "GET", "SYS/mounts", refused},
		{"identity", "POST", "identity/oidc/token/r", refused},
		{"dot-dot", "GET", "secret/../auth/token/create", refused},
		{"double slash", "GET", "secret//data", refused},
		{"escape", "GET", "secret/%2e%2e/sys", refused},
		{"empty", "GET", "", refused},
		{"unknown method", "CONNECT", "secret/data/app", refused},
	} {
		got, why := allow(c.method, c.path)
		if got != c.want {
			t.Errorf("%s: %s %s: got %v (%s), want %v", c.name, c.method, c.path, got, why, c.want)
		}
		if got == refused && why == "" {
			t.Errorf("%s: refused without a reason", c.name)
		}
	}
}

func TestSanitize(t *testing.T) {
	wt := &workloadToken{token: "hvs.WORKLOAD", accessor: "acc-123"}
	for _, c := range []struct {
		name     string
		how      passage
		body     string
		withheld bool
		touched  bool
		absent   []string
	}{
		{"plain kv answer", forwarded, `{"data":{"data":{"password":"x"}},"auth":null,"wrap_info":null}`, false, false, nil},
		{"lookup-self", lookupSelf, `{"data":{"id":"hvs.WORKLOAD","accessor":"acc-123","policies":["app"]}}`, false, true, []string{"hvs.WORKLOAD", "acc-123"}},
		{"a login's answer", forwarded, `{"auth":{"client_token":"hvs.OTHER"}}`, true, true, nil},
		{"a wrapped answer", forwarded, `{"wrap_info":{"token":"hvs.WRAP"}}`, true, true, nil},
		{"token elsewhere", forwarded, `{"data":{"note":"hvs.WORKLOAD and acc-123"}}`, false, true, []string{"hvs.WORKLOAD", "acc-123"}},
		{"not JSON", forwarded, `raw hvs.WORKLOAD`, false, true, []string{"hvs.WORKLOAD"}},
	} {
		got, touched := sanitize(&reply{status: 200, header: http.Header{}, body: []byte(c.body)}, wt, c.how)
		if (got == nil) != c.withheld || touched != c.touched {
			t.Errorf("%s: got %v touched %v, want withheld %v touched %v", c.name, got, touched, c.withheld, c.touched)
			continue
		}
		for _, s := range c.absent {
			if strings.Contains(string(got.body), s) {
				t.Errorf("%s: %q left the agent: %s", c.name, s, got.body)
			}
		}
	}
}

// fakeClock is a clock a test moves by hand.
type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time { return f.t }

func TestCacheAndTokensFollowTheInjectedClock(t *testing.T) {
	fc := &fakeClock{t: time.Unix(1_000_000, 0)}
	c := newKVCache(5*time.Second, 0, newClock(fc.now))
	rep := &reply{status: 200, body: []byte(`{}`)}
	c.put("who", "/v1/secret/data/a", rep)
	fc.t = fc.t.Add(4 * time.Second)
	if c.get("who", "/v1/secret/data/a") != rep {
		t.Fatal("an entry younger than the TTL was not served")
	}
	fc.t = fc.t.Add(time.Second)
	if c.get("who", "/v1/secret/data/a") != nil {
		t.Fatal("an entry at its TTL was served")
	}
	wt := &workloadToken{obtained: fc.t, ttl: 30 * time.Second}
	if !wt.fresh(fc.t.Add(19*time.Second)) || wt.fresh(fc.t.Add(20*time.Second)) || !wt.valid(fc.t.Add(29*time.Second)) || wt.valid(fc.t.Add(30*time.Second)) {
		t.Fatal("token freshness does not follow two thirds of the TTL")
	}
}

// A wait ends when the injected clock reaches its deadline, however far
// that is by the wall clock.
func TestSleepUntilFollowsTheInjectedClock(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_000_000, 0)
	c := newClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	c.recheck = 5 * time.Millisecond
	done := make(chan bool)
	go func() { done <- c.sleepUntil(context.Background(), now.Add(time.Hour), nil) }()
	select {
	case <-done:
		t.Fatal("the wait ended before the clock moved")
	case <-time.After(50 * time.Millisecond):
	}
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	select {
	case woken := <-done:
		if woken {
			t.Fatal("a wait that reached its deadline says it was woken")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the wait did not end when the clock reached its deadline")
	}
	wake := make(chan struct{}, 1)
	wake <- struct{}{}
	if !c.sleepUntil(context.Background(), now.Add(time.Hour), wake) {
		t.Fatal("a wake did not end the wait")
	}
}
