package sealconf

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/seal"
)

// ErrRecoveryKeyMismatch: the recovery shares given do not combine to the
// stored recovery key (too few, wrong, or mixed).
var ErrRecoveryKeyMismatch = errors.New("the recovery key shares do not combine to this server's recovery key")

// CheckRecoveryShare refuses, with seal.ErrInvalidShare, a share that
// cannot be one of a recovery key split as split says, so that a typing
// error need not be counted.
func CheckRecoveryShare(share []byte, split seal.Split) error {
	want := barrier.KeySize + 1
	if split.Shares == 1 {
		want = barrier.KeySize
	}
	if len(share) != want {
		return fmt.Errorf("%w: a recovery key share is %d bytes, got %d", seal.ErrInvalidShare, want, len(share))
	}
	return nil
}

// RecoveryKey returns the recovery key when shares, combined by combine,
// are the one s protects in conf: ErrRecoveryKeyMismatch when they are
// not, seal.ErrInvalidShare for a malformed share. The shares are only
// read; the caller wipes the result.
func RecoveryKey(ctx context.Context, s seal.Seal, conf *Config, shares [][]byte, combine func([][]byte) ([]byte, error)) ([]byte, error) {
	if len(shares) < conf.RecoveryThreshold {
		return nil, ErrRecoveryKeyMismatch
	}
	for _, sh := range shares {
		if err := CheckRecoveryShare(sh, conf.RecoverySplit()); err != nil {
			return nil, err
		}
	}
	given, err := combine(shares)
	if err != nil {
		return nil, ErrRecoveryKeyMismatch
	}
	stored, err := s.Unwrap(ctx, conf.SealedRecoveryKey, nil)
	if err != nil {
		clear(given)
		return nil, fmt.Errorf("%s seal: unwrapping the recovery key: %w", s.Type(), err)
	}
	defer clear(stored)
	key, err := UntagRecoveryKey(stored)
	if err == nil && subtle.ConstantTimeCompare(given, key) != 1 {
		err = ErrRecoveryKeyMismatch
	}
	if err != nil {
		clear(given)
		return nil, fmt.Errorf("%s seal: %w", s.Type(), err)
	}
	return given, nil
}
