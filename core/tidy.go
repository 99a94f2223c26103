package core

import (
	"context"
	"time"
)

// tidyInterval is how often expired tokens are removed in the background.
// Expired tokens are refused on use whatever this is; tidying only frees
// their storage.
const tidyInterval = time.Minute

// startTidy runs the active node's cleanup (expired tokens, due leases)
// until ctx ends, at seal or step-down.
func (c *Core) startTidy(ctx context.Context) {
	go func() {
		t := time.NewTicker(tidyInterval)
		defer t.Stop()
		lt := time.NewTicker(leaseInterval)
		defer lt.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.tidyOnce(ctx)
			case <-lt.C:
				c.expireLeases(ctx)
			}
		}
	}()
}

// activeState enters the unsealed state for active-node work started
// with ctx: ctx is cancelled under the write lock when the node seals or
// steps down, so work that finds it alive here runs on a live state.
func (c *Core) activeState(ctx context.Context) (*unsealed, func(), bool) {
	st, release, err := c.enter()
	if err != nil {
		return nil, nil, false
	}
	if ctx.Err() != nil {
		release()
		return nil, nil, false
	}
	return st, release, true
}

func (c *Core) tidyOnce(ctx context.Context) {
	st, release, ok := c.activeState(ctx)
	if !ok {
		return
	}
	defer release()
	n, err := st.tokens.Tidy(ctx)
	switch {
	case err != nil:
		c.log.Warn("token tidy failed; expired tokens stay refused and will be retried", "error", err)
	case n > 0:
		c.log.Info("removed expired tokens", "count", n)
	}
}
