package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openbao/openbao/api/v2"
)

// At boot the network, or the server, may not answer yet. A retrier
// repeats a call that failed for a reason that may pass (no HTTP answer,
// or a 5xx such as a sealed server's 503) until a deadline, with pauses
// from half a second doubling to ten. A refusal (4xx: revoked, permission
// denied, a wrapped form that does not open) is never retried.
type retrier struct {
	until time.Time // zero: one try
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	// report, when set, is told of each failure that will be retried.
	report func(err error, pause time.Duration)
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errGaveUp wraps the last error of a call retried until its deadline.
var errGaveUp = errors.New("gave up retrying")

func (r retrier) do(ctx context.Context, fn func() error) error {
	pause := 500 * time.Millisecond
	for tries := 1; ; tries++ {
		err := fn()
		if err == nil || !transient(err) || r.until.IsZero() {
			return err
		}
		left := r.until.Sub(r.now())
		if left <= 0 {
			return fmt.Errorf("%w after %d tries: %w", errGaveUp, tries, err)
		}
		if r.report != nil {
			r.report(err, min(pause, left))
		}
		if err := r.sleep(ctx, min(pause, left)); err != nil {
			return err
		}
		pause = min(2*pause, 10*time.Second)
	}
}

// transient reports whether err may pass by itself: the server gave no
// HTTP answer, or a 5xx one.
func transient(err error) bool {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode >= 500
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}
