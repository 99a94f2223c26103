package core

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/seal"
)

// Recovery keys. A seal that unseals by itself gives people no unseal
// shares; at init it may give them recovery shares instead. The recovery
// key is random, split into shares with Shamir's scheme, and stored only
// wrapped by the seal, in the seal configuration beside the root key.
// Recovery shares authorise operations (generate-root, later rekeying the
// recovery key and seal migration); they never unseal: Unseal refuses
// every share on such a seal, and nothing derives the root key from them.

// ErrRecoveryKeyMismatch: the recovery shares given do not combine to this
// server's recovery key. Returned wrapped with ErrInvalidRequest (400).
var ErrRecoveryKeyMismatch = errors.New("the recovery key shares do not combine to this server's recovery key")

// recoveryKeyTag comes before the recovery key in what the seal wraps.
// Unwrapped, a recovery key is never a root key's length, so neither
// wrapped blob can stand in for the other.
const recoveryKeyTag = "arca recovery key v1\x00"

// addRecoveryKey makes a recovery key split as split asks, records it in
// conf wrapped by the seal, and returns its shares: the caller hands them
// out and wipes them.
func (c *Core) addRecoveryKey(ctx context.Context, conf *sealConfig, split seal.Split) ([][]byte, error) {
	key, err := randomKey()
	if err != nil {
		return nil, err
	}
	defer clear(key)
	tagged := append([]byte(recoveryKeyTag), key...)
	defer clear(tagged)
	wrapped, _, err := c.seal.Wrap(ctx, tagged, seal.Split{})
	if err != nil {
		return nil, fmt.Errorf("%s seal: wrapping the recovery key: %w", c.seal.Type(), err)
	}
	shares, err := splitKey(key, split)
	if err != nil {
		return nil, fmt.Errorf("splitting the recovery key: %w", err)
	}
	conf.RecoveryShares, conf.RecoveryThreshold, conf.SealedRecoveryKey = split.Shares, split.Threshold, wrapped
	return shares, nil
}

// recoverySplit is how the recovery key of conf is split.
func (conf *sealConfig) recoverySplit() seal.Split {
	return seal.Split{Shares: conf.RecoveryShares, Threshold: conf.RecoveryThreshold}
}

// checkRecoveryShare refuses, with ErrInvalidUnsealKey, a share that
// cannot be one of a recovery key split as split says, so that a typing
// error need not be counted.
func checkRecoveryShare(share []byte, split seal.Split) error {
	want := barrier.KeySize + 1
	if split.Shares == 1 {
		want = barrier.KeySize
	}
	if len(share) != want {
		return fmt.Errorf("%w: a recovery key share is %d bytes, got %d", ErrInvalidUnsealKey, want, len(share))
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
	conf, err := c.readSealConfig(ctx)
	if err != nil {
		return err
	}
	if conf == nil {
		return ErrNotInitialized
	}
	if err := c.matchSeal(conf); err != nil {
		return err
	}
	if len(conf.SealedRecoveryKey) == 0 {
		return c.sealUnsupported("recovery keys are", "this server was initialised without recovery shares")
	}
	mismatch := fmt.Errorf("%w: %w", ErrInvalidRequest, ErrRecoveryKeyMismatch)
	if len(shares) < conf.RecoveryThreshold {
		return mismatch
	}
	for _, s := range shares {
		if err := checkRecoveryShare(s, conf.recoverySplit()); err != nil {
			return err
		}
	}
	given, err := combineKey(shares)
	if err != nil {
		return mismatch
	}
	defer clear(given)
	stored, err := c.seal.Unwrap(ctx, conf.SealedRecoveryKey, nil)
	if err != nil {
		return fmt.Errorf("%s seal: unwrapping the recovery key: %w", c.seal.Type(), err)
	}
	defer clear(stored)
	if len(stored) != len(recoveryKeyTag)+barrier.KeySize || string(stored[:len(recoveryKeyTag)]) != recoveryKeyTag {
		return fmt.Errorf("%s seal: the stored recovery key is not one", c.seal.Type())
	}
	if subtle.ConstantTimeCompare(given, stored[len(recoveryKeyTag):]) != 1 {
		return mismatch
	}
	return nil
}
