package core

import (
	"context"
	"time"
)

// tidyInterval is how often expired tokens are removed in the background.
// Expired tokens are refused on use whatever this is; tidying only frees
// their storage.
const tidyInterval = time.Minute

// startTidy runs the background cleanup until stop is called (at seal).
// c.stateLock must be held for writing by the caller.
func (c *Core) startTidy() {
	ctx, cancel := context.WithCancel(context.Background())
	c.stopTidy = cancel
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

func (c *Core) tidyOnce(ctx context.Context) {
	c.stateLock.RLock()
	defer c.stateLock.RUnlock()
	if c.sealed || ctx.Err() != nil {
		return
	}
	n, err := c.tokens.Tidy(ctx)
	switch {
	case err != nil:
		c.log.Warn("token tidy failed; expired tokens stay refused and will be retried", "error", err)
	case n > 0:
		c.log.Info("removed expired tokens", "count", n)
	}
}
