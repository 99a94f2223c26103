package bench

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// A new KV v2 mount on OpenBao answers 400 while it sets itself up:
// the seed waits that out, and fails at once on any other refusal.
func TestFirstWriteWaitsForANewMount(t *testing.T) {
	for _, tc := range []struct {
		name      string
		refusals  int
		status    int
		wantCalls int64
		wantCode  int
	}{
		{name: "upgrading, then ready", refusals: 3, status: http.StatusBadRequest, wantCalls: 4},
		{name: "forbidden", refusals: 1 << 30, status: http.StatusForbidden, wantCalls: 1, wantCode: http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) <= int64(tc.refusals) {
					w.WriteHeader(tc.status)
					return
				}
				w.WriteHeader(http.StatusNoContent)
			}))
			defer srv.Close()
			c, err := newClient(srv.URL, "t", "", 1)
			if err != nil {
				t.Fatal(err)
			}
			err = firstWrite(context.Background(), c, "kv/data/k0", map[string]any{"data": map[string]any{"v": "x"}})
			var se *statusError
			switch {
			case tc.wantCode == 0 && err != nil:
				t.Fatalf("got %v, want success", err)
			case tc.wantCode != 0 && (!errors.As(err, &se) || se.code != tc.wantCode):
				t.Fatalf("got %v, want http %d", err, tc.wantCode)
			}
			if got := calls.Load(); got != tc.wantCalls {
				t.Errorf("got %d requests, want %d", got, tc.wantCalls)
			}
		})
	}
}

// With Server beside an HTTP Addr, the set-up and clean-up go to Server
// only, and the run starts once Addr reads the last key set up (a standby
// that has not applied it yet answers 404 meanwhile); the measured reads
// all go to Addr.
func TestSetUpThroughAnotherNode(t *testing.T) {
	var adminReqs, standbyWrites, standbyReads, notYet atomic.Int64
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		adminReqs.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer admin.Close()
	standby := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			standbyWrites.Add(1)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if notYet.Add(1) <= 3 {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		standbyReads.Add(1)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"data":{}}`))
	}))
	defer standby.Close()
	res, err := Run(context.Background(), Config{Addr: standby.URL, Server: admin.URL, Token: "t", Duration: 200 * time.Millisecond,
		Concurrency: 2, KVKeys: 10, Mix: []Weighted{{Name: "kv-read", Weight: 1}}, Prefix: "p"})
	if err != nil {
		t.Fatal(err)
	}
	// mount, 10 writes, unmount
	if got := adminReqs.Load(); got != 12 {
		t.Errorf("the set-up node got %d requests, want 12", got)
	}
	if standbyWrites.Load() != 0 {
		t.Errorf("the measured node got %d set-up writes", standbyWrites.Load())
	}
	if n := res[0].Errors["http 404"]; n != 0 || res[0].Ops == 0 {
		t.Errorf("%d operations, %d of them 404s: the run started before the set-up reached the measured node", res[0].Ops, n)
	}
}
