package core

import (
	"context"
	"errors"

	"github.com/arca-secrets/arca/core/sealconf"
	"github.com/arca-secrets/arca/seal"
)

// shareQuorum is what authorises an operation by key shares rather than by
// a token (generate-root): how the shares are split, a check of one share
// as it arrives, and a check that a quorum of them is genuine.
type shareQuorum struct {
	split seal.Split
	// check refuses a share that cannot be one of the quorum's (malformed),
	// before it is counted.
	check func(share []byte) error
	// verify returns nil when shares open this server's key, and
	// ErrSharesRejected when they do not.
	verify func(ctx context.Context, shares [][]byte) error
}

// quorumFor is the one place that says which shares authorise: the unseal
// key shares of a seal that needs people, which must unwrap the stored root
// key through the seal; for a seal that unseals by itself, its recovery
// shares, which must open the recovery key the seal protects.
func (c *Core) quorumFor(conf *sealconf.Config) (shareQuorum, error) {
	if err := c.matchSeal(conf); err != nil {
		return shareQuorum{}, err
	}
	if c.seal.AutoUnseal() {
		// A seal that unseals by itself: its recovery shares authorise.
		if conf.RecoveryShares == 0 {
			return shareQuorum{}, c.sealUnsupported("authorising with key shares is", "the server was initialised without recovery shares")
		}
		split := conf.RecoverySplit()
		return shareQuorum{
			split: split,
			check: func(share []byte) error { return checkRecoveryShare(share, split) },
			verify: func(ctx context.Context, shares [][]byte) error {
				err := c.checkRecoveryShares(ctx, shares)
				if errors.Is(err, ErrRecoveryKeyMismatch) {
					return ErrSharesRejected
				}
				return err
			},
		}, nil
	}
	split := conf.Split()
	return shareQuorum{
		split: split,
		check: func(share []byte) error { return checkShareWith(c.seal, share, split) },
		verify: func(ctx context.Context, shares [][]byte) error {
			rootKey, err := c.unwrapRootKey(ctx, conf, shares)
			if errors.Is(err, ErrUnsealFailed) {
				return ErrSharesRejected
			}
			if err != nil {
				return err
			}
			clear(rootKey)
			return nil
		},
	}, nil
}
