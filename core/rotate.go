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

// SealSnapshotSums seals a raft snapshot's sums with the keyring.
func (c *Core) SealSnapshotSums(sums []byte) ([]byte, error) {
	_, release, err := c.enter()
	if err != nil {
		return nil, err
	}
	defer release()
	return c.barrier.SealDetached("raft-snapshot-sums", sums)
}

// OpenSnapshotSums opens sums SealSnapshotSums sealed with any term of
// the keyring; an error when this cluster's keyring did not seal them.
func (c *Core) OpenSnapshotSums(sealed []byte) ([]byte, error) {
	_, release, err := c.enter()
	if err != nil {
		return nil, err
	}
	defer release()
	return c.barrier.OpenDetached("raft-snapshot-sums", sealed)
}
