package core

import (
	"context"

	"github.com/arca-secrets/arca/barrier"
)

// Rotate adds a keyring term for new writes.
func (c *Core) Rotate(ctx context.Context) (uint32, error) {
	c.stateLock.RLock()
	defer c.stateLock.RUnlock()
	if c.sealed {
		return 0, ErrSealed
	}
	term, err := c.barrier.Rotate(ctx)
	if err == nil {
		c.log.Info("keyring rotated", "term", term)
	}
	return term, err
}

// KeyStatus describes the active keyring term.
func (c *Core) KeyStatus() (barrier.KeyStatus, error) {
	c.stateLock.RLock()
	defer c.stateLock.RUnlock()
	if c.sealed {
		return barrier.KeyStatus{}, ErrSealed
	}
	return c.barrier.KeyStatus()
}
