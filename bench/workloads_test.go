package bench

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
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
