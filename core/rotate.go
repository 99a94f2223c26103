package core

import (
	"context"

	"github.com/arca-secrets/arca/barrier"
)

// Rotate adds a keyring term for new writes.
func (c *Core) Rotate(ctx context.Context) (uint32, error) {
	_, release, err := c.enter()
	if err != nil {
		return 0, err
	}
	defer release()
	term, err := c.barrier.Rotate(ctx)
	if err == nil {
		c.log.Info("keyring rotated", "term", term)
	}
	return term, err
}

// KeyStatus describes the active keyring term.
func (c *Core) KeyStatus() (barrier.KeyStatus, error) {
	_, release, err := c.enter()
	if err != nil {
		return barrier.KeyStatus{}, err
	}
	defer release()
	return c.barrier.KeyStatus()
}
