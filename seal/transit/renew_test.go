package transit

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/arca-secrets/arca/seal"
)

// fakeToken answers lookup-self and renew-self from a script, and records
// when each call came by the bubble's fake clock.
type fakeToken struct {
	mu     sync.Mutex
	start  time.Time
	calls  []string
	at     []time.Duration
	lookup []result
	renew  []result
}

type result struct {
	info tokenInfo
	err  error
}

func (f *fakeToken) next(name string, list *[]result) (tokenInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
	f.at = append(f.at, time.Since(f.start))
	if len(*list) == 0 {
		return tokenInfo{}, nil // not renewable: the renewer stops
	}
	r := (*list)[0]
	*list = (*list)[1:]
	return r.info, r.err
}

func (f *fakeToken) renewer() *renewer {
	return &renewer{
		lookup: func(context.Context) (tokenInfo, error) { return f.next("lookup", &f.lookup) },
		renew:  func(context.Context) (tokenInfo, error) { return f.next("renew", &f.renew) },
		log:    slog.New(slog.DiscardHandler),
	}
}

var errDown = &Error{Op: opRenewSelf, URL: "http://unsealer/v1/auth/token/renew-self", Err: errors.New("connection refused"), kind: seal.ErrUnavailable}

func TestRenewer(t *testing.T) {
	renewable := func(ttl time.Duration) result { return result{info: tokenInfo{ttl: ttl, renewable: true}} }
	tests := []struct {
		name          string
		lookup, renew []result
		wantCalls     []string
		wantAt        []time.Duration
	}{
		{
			name:      "renews at two thirds of each TTL",
			lookup:    []result{renewable(30 * time.Minute)},
			renew:     []result{renewable(time.Hour), renewable(90 * time.Second)},
			wantCalls: []string{"lookup", "renew", "renew", "renew"},
			wantAt:    []time.Duration{0, 20 * time.Minute, 60 * time.Minute, 61 * time.Minute},
		},
		{
			name:      "a token that does not expire is never renewed",
			lookup:    []result{{info: tokenInfo{ttl: 0, renewable: false}}},
			wantCalls: []string{"lookup"},
			wantAt:    []time.Duration{0},
		},
		{
			name:      "a renewable token without a TTL is never renewed",
			lookup:    []result{{info: tokenInfo{ttl: 0, renewable: true}}},
			wantCalls: []string{"lookup"},
			wantAt:    []time.Duration{0},
		},
		{
			name:      "an unreachable server is retried with backoff",
			lookup:    []result{{err: errDown}, {err: errDown}, {err: errDown}, renewable(3 * time.Minute)},
			renew:     []result{{err: errDown}, renewable(0)},
			wantCalls: []string{"lookup", "lookup", "lookup", "lookup", "renew", "renew"},
			wantAt:    []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second, 7*time.Second + 2*time.Minute, 7*time.Second + 2*time.Minute + time.Second},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeToken{start: time.Now(), lookup: tc.lookup, renew: tc.renew}
				done := make(chan struct{})
				go func() { f.renewer().run(t.Context()); close(done) }()
				<-done
				if len(f.calls) != len(tc.wantCalls) {
					t.Fatalf("got calls %v, want %v", f.calls, tc.wantCalls)
				}
				for i := range f.calls {
					if f.calls[i] != tc.wantCalls[i] || f.at[i] != tc.wantAt[i] {
						t.Fatalf("call %d: got %s at %v, want %s at %v (all: %v at %v)", i, f.calls[i], f.at[i], tc.wantCalls[i], tc.wantAt[i], f.calls, f.at)
					}
				}
			})
		})
	}
}

func TestRenewerStopsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeToken{start: time.Now()}
		for range 100 {
			f.renew = append(f.renew, result{info: tokenInfo{ttl: time.Hour, renewable: true}})
		}
		f.lookup = []result{{info: tokenInfo{ttl: time.Hour, renewable: true}}}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { f.renewer().run(ctx); close(done) }()
		time.Sleep(41 * time.Minute) // the bubble's fake clock: past the first renewal (40m), before the second (80m)
		synctest.Wait()
		cancel()
		<-done
		if len(f.calls) != 2 {
			t.Fatalf("got calls %v, want lookup and one renewal before the cancel", f.calls)
		}
	})
}
