package agent

import (
	"context"
	"time"
)

// clock is the agent's one source of time: token freshness, the read
// cache and renewals all ask it (Config.Now), and every wait is computed
// from it.
type clock struct {
	now func() time.Time
	// recheck bounds how long a wait sleeps before it asks now again, so
	// that a moved clock (a suspended host, or a test's fake clock) is
	// noticed within it.
	recheck time.Duration
}

func newClock(now func() time.Time) clock {
	if now == nil {
		now = time.Now
	}
	return clock{now: now, recheck: time.Minute}
}

// Now is the current time by the agent's clock.
func (c clock) Now() time.Time { return c.now() }

// sleepUntil waits until the clock reaches t or ctx ends. A receive
// from wake (nil: none) ends the wait early and makes it answer true.
func (c clock) sleepUntil(ctx context.Context, t time.Time, wake <-chan struct{}) (woken bool) {
	for {
		d := t.Sub(c.now())
		if d <= 0 {
			return false
		}
		timer := time.NewTimer(min(d, c.recheck))
		select {
		case <-ctx.Done():
			timer.Stop()
			return false
		case <-wake:
			timer.Stop()
			return true
		case <-timer.C:
		}
	}
}
