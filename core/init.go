package core

import (
	"context"
	"fmt"

	"github.com/arca-secrets/arca/barrier"
)

// InitResult is what init hands out exactly once.
type InitResult struct {
	// Shares are the unseal key shares; the caller must wipe them.
	Shares    [][]byte
	RootToken string
}

// Init generates the unseal key (split into shares), the root key and the
// keyring, and a root token. The core stays sealed.
func (c *Core) Init(ctx context.Context, shares, threshold int) (*InitResult, error) {
	if err := validateShares(shares, threshold); err != nil {
		return nil, err
	}
	c.stateLock.Lock()
	defer c.stateLock.Unlock()
	conf, err := c.readSealConfig(ctx)
	if err != nil {
		return nil, err
	}
	if conf != nil {
		return nil, ErrAlreadyInitialized
	}
	unsealKey, err := randomKey()
	if err != nil {
		return nil, err
	}
	defer clear(unsealKey)
	rootKey, err := randomKey()
	if err != nil {
		return nil, err
	}
	defer clear(rootKey)
	split, err := splitUnsealKey(unsealKey, shares, threshold)
	if err != nil {
		return nil, fmt.Errorf("splitting unseal key: %w", err)
	}
	// No seal configuration but a keyring means an init that crashed before
	// it finished; nobody ever received its shares, so start over.
	if err := c.physical.Delete(ctx, barrier.KeyringPath); err != nil {
		return nil, fmt.Errorf("clearing an unfinished init: %w", err)
	}
	if err := c.barrier.Initialize(ctx, rootKey); err != nil {
		return nil, fmt.Errorf("initializing barrier: %w", err)
	}
	// The root token is created with the barrier briefly open, then sealed
	// again: init never leaves a server unsealed.
	if err := c.barrier.Unseal(ctx, rootKey); err != nil {
		return nil, err
	}
	defer c.barrier.Seal()
	tokens, err := c.openTokens(ctx)
	if err != nil {
		return nil, err
	}
	defer tokens.Wipe()
	if err := writeDefaultMounts(ctx, c.barrier); err != nil {
		return nil, err
	}
	if err := writeDefaultPolicy(ctx, c.barrier); err != nil {
		return nil, err
	}
	rootToken, err := createRootToken(ctx, tokens, "")
	if err != nil {
		return nil, err
	}
	conf, err = newSealConfig(shares, threshold, unsealKey, rootKey)
	if err != nil {
		return nil, err
	}
	// The seal configuration is written last: its presence is what marks
	// the server initialised, so a crash before this point allows init again.
	if err := c.writeSealConfig(ctx, conf); err != nil {
		return nil, err
	}
	c.log.Info("arca initialized", "shares", shares, "threshold", threshold)
	return &InitResult{Shares: split, RootToken: rootToken}, nil
}
