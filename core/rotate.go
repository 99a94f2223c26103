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

// OpensKeyring reports whether this node's root key opens sealed, a
// keyring as the barrier stores it (a snapshot's): barrier.ErrBadRootKey
// when another cluster's root key sealed it.
func (c *Core) OpensKeyring(sealed []byte) error {
	_, release, err := c.enter()
	if err != nil {
		return err
	}
	defer release()
	return c.barrier.OpensKeyring(sealed)
}
