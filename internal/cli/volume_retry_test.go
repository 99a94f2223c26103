package cli

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/arca-secrets/arca/internal/clocktest"
	"github.com/google/go-cmp/cmp"
	"github.com/openbao/openbao/api/v2"
)

func TestRetrier(t *testing.T) {
	netErr := errors.New("dial tcp: connection refused")
	sealed := &api.ResponseError{StatusCode: http.StatusServiceUnavailable}
	revoked := &api.ResponseError{StatusCode: http.StatusBadRequest}
	tests := []struct {
		name       string
		window     time.Duration
		errs       []error // what the call returns, try by try; then nil
		wantTries  int
		wantPauses []time.Duration
		wantErr    error
	}{
		{"no retry without a window", 0, []error{netErr}, 1, nil, netErr},
		{"network comes up", time.Minute, []error{netErr, netErr, sealed}, 4, []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}, nil},
		{"refusal is final", time.Minute, []error{revoked}, 1, nil, revoked},
		{"deadline: a last try at it", 3 * time.Second, []error{netErr, netErr, netErr, netErr, netErr}, 4, []time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond}, errGaveUp},
		{"pauses stop growing at ten seconds", time.Hour, make7(netErr), 8, []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := clocktest.New()
			var pauses []time.Duration
			r := retrier{now: clock.Now, sleep: func(_ context.Context, d time.Duration) error {
				pauses = append(pauses, d)
				clock.Advance(d)
				return nil
			}}
			if tc.window > 0 {
				r.until = clock.Now().Add(tc.window)
			}
			tries := 0
			err := r.do(context.Background(), func() error {
				tries++
				if tries <= len(tc.errs) {
					return tc.errs[tries-1]
				}
				return nil
			})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err: got %v, want %v", err, tc.wantErr)
			}
			if tries != tc.wantTries {
				t.Fatalf("tries: got %d, want %d", tries, tc.wantTries)
			}
			if diff := cmp.Diff(tc.wantPauses, pauses); diff != "" {
				t.Fatalf("pauses (-want +got):\n%s", diff)
			}
		})
	}
}

func make7(err error) []error {
	out := make([]error, 7)
	for i := range out {
		out[i] = err
	}
	return out
}
