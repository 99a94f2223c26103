package transit

import (
	"context"
	"log/slog"
	"time"
)

// Retries of a failed lookup or renewal start at retryMin apart and back
// off to retryMax.
const (
	retryMin = time.Second
	retryMax = time.Minute
)

// renewer keeps the seal's token alive: it learns the token's TTL, then
// renews it at about two thirds of each TTL for as long as the token is
// renewable. A failed call is retried with backoff. It waits on timers,
// so tests run it under testing/synctest's fake clock.
type renewer struct {
	lookup func(context.Context) (tokenInfo, error)
	renew  func(context.Context) (tokenInfo, error)
	log    *slog.Logger
}

// run renews until ctx ends or the token stops being renewable.
func (r *renewer) run(ctx context.Context) {
	info, ok := r.retry(ctx, "looking up the seal's token", r.lookup)
	for ok {
		if !info.renewable || info.ttl <= 0 {
			r.log.Info("the seal's token is not renewable or does not expire: it will not be renewed", "ttl", info.ttl, "renewable", info.renewable)
			return
		}
		if !wait(ctx, info.ttl*2/3) {
			return
		}
		info, ok = r.retry(ctx, "renewing the seal's token", r.renew)
		if ok {
			r.log.Debug("renewed the seal's token", "ttl", info.ttl)
		}
	}
}

// retry calls f until it succeeds or ctx ends, waiting longer after each
// failure.
func (r *renewer) retry(ctx context.Context, what string, f func(context.Context) (tokenInfo, error)) (tokenInfo, bool) {
	pause := retryMin
	for {
		info, err := f(ctx)
		if err == nil {
			return info, true
		}
		if ctx.Err() != nil {
			return tokenInfo{}, false
		}
		r.log.Warn(what+" failed; retrying", "error", err, "retry_in", pause)
		if !wait(ctx, pause) {
			return tokenInfo{}, false
		}
		pause = min(2*pause, retryMax)
	}
}

// wait waits d or until ctx ends, and reports whether d passed.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
