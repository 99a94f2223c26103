package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/arca-secrets/arca/core/sealconf"
	"github.com/arca-secrets/arca/seal"
)

// Recovery keys (core/sealconf keeps their format): a seal that unseals by
// itself gives people recovery shares, not unseal shares. They authorise
// generate-root and seal migration, and never unseal.

// ErrRecoveryKeyMismatch: the recovery shares given do not combine to this
// server's recovery key. Returned wrapped with ErrInvalidRequest (400).
var ErrRecoveryKeyMismatch = sealconf.ErrRecoveryKeyMismatch

// addRecoveryKey makes a recovery key split as split asks, records it in
// conf wrapped by the seal, and returns its shares: the caller hands them
// out and wipes them.
func (c *Core) addRecoveryKey(ctx context.Context, conf *sealconf.Config, split seal.Split) ([][]byte, error) {
	key, err := randomKey()
	if err != nil {
		return nil, err
	}
	defer clear(key)
	wrapped, err := sealconf.WrapRecoveryKey(ctx, c.seal, key)
	if err != nil {
		return nil, err
	}
	shares, err := splitKey(key, split)
	if err != nil {
		return nil, fmt.Errorf("splitting the recovery key: %w", err)
	}
	conf.RecoveryShares, conf.RecoveryThreshold, conf.SealedRecoveryKey = split.Shares, split.Threshold, wrapped
	return shares, nil
}

// checkRecoveryShare refuses, with ErrInvalidUnsealKey, a share that
// cannot be one of a recovery key split as split says.
func checkRecoveryShare(share []byte, split seal.Split) error {
	if err := sealconf.CheckRecoveryShare(share, split); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidUnsealKey, err)
	}
	return nil
}

// checkRecoveryShares returns nil when shares combine to the recovery key
// the seal protects, and an error matching ErrRecoveryKeyMismatch and
// ErrInvalidRequest when they do not (too few, wrong, or mixed). A server
// without a recovery key gives ErrSealUnsupported. The seal must be
// reachable: it unwraps the stored recovery key. Nothing is unsealed and
// the shares are only read.
func (c *Core) checkRecoveryShares(ctx context.Context, shares [][]byte) error {
	conf, err := sealconf.Read(ctx, c.physical)
	if err != nil {
		return err
	}
	if conf == nil {
		return ErrNotInitialized
	}
	if err := c.matchSeal(conf); err != nil {
		return err
	}
	key, err := c.recoveryKey(ctx, c.seal, conf, shares)
	clear(key)
	return err
}

// recoveryKey returns the recovery key when shares combine to the one
// that s protects in conf, with checkRecoveryShares' errors otherwise.
// The caller wipes it.
func (c *Core) recoveryKey(ctx context.Context, s seal.Seal, conf *sealconf.Config, shares [][]byte) ([]byte, error) {
	if len(conf.SealedRecoveryKey) == 0 {
		return nil, c.sealUnsupported("recovery keys are", "this server was initialised without recovery shares")
	}
	key, err := sealconf.RecoveryKey(ctx, s, conf, shares, combineKey)
	switch {
	case errors.Is(err, ErrRecoveryKeyMismatch):
		return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	case errors.Is(err, seal.ErrInvalidShare):
		return nil, fmt.Errorf("%w: %w", ErrInvalidUnsealKey, err)
	}
	return key, err
}
