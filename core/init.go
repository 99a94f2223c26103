package core

import (
	"context"
	"fmt"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/core/sealconf"
	"github.com/arca-secrets/arca/seal"
)

// InitParams is what init is asked for.
type InitParams struct {
	// SecretShares and SecretThreshold split the unseal key of a seal that
	// needs people. Both zero with a seal that unseals by itself.
	SecretShares, SecretThreshold int
	// RecoveryShares and RecoveryThreshold split the recovery key of a
	// seal that unseals by itself; both zero make none.
	RecoveryShares, RecoveryThreshold int
}

// InitResult is what init hands out exactly once.
type InitResult struct {
	// Shares are the unseal key shares (none with a seal that unseals by
	// itself); the caller must wipe them.
	Shares [][]byte
	// RecoveryShares are the recovery key shares of a seal that unseals
	// by itself, when init asked for them; the caller must wipe them.
	RecoveryShares [][]byte
	RootToken      string
}

// Init initialises with an unseal key split into shares, any threshold of
// which unseal: InitWith for the configured seal with only secret shares.
func (c *Core) Init(ctx context.Context, shares, threshold int) (*InitResult, error) {
	return c.InitWith(ctx, InitParams{SecretShares: shares, SecretThreshold: threshold})
}

// checkInitParams refuses parameters that do not apply to the seal.
func (c *Core) checkInitParams(p InitParams) error {
	if c.oldSeal != nil {
		return fmt.Errorf("%w: a server with a disabled seal (seal migration mode) cannot be initialised; remove the disabled seal block", ErrInvalidRequest)
	}
	if !c.seal.AutoUnseal() {
		if p.RecoveryShares != 0 || p.RecoveryThreshold != 0 {
			return c.sealUnsupported("recovery keys are", "its unseal key shares are the only keys")
		}
		return validateSplit("secret", p.SecretShares, p.SecretThreshold)
	}
	if p.SecretShares != 0 || p.SecretThreshold != 0 {
		return c.sealUnsupported("unseal key shares are", "it unseals by itself; leave secret_shares and secret_threshold unset")
	}
	if p.RecoveryShares != 0 || p.RecoveryThreshold != 0 {
		return validateSplit("recovery", p.RecoveryShares, p.RecoveryThreshold)
	}
	return nil
}

// InitWith generates the root key and the keyring, has the seal wrap the
// root key (making the unseal key shares of a seal that needs people), and
// creates a root token. The core stays sealed.
func (c *Core) InitWith(ctx context.Context, p InitParams) (*InitResult, error) {
	if err := c.checkInitParams(p); err != nil {
		return nil, err
	}
	if err := c.seal.Health(ctx); err != nil {
		return nil, fmt.Errorf("%s seal: %w", c.seal.Type(), err)
	}
	c.stateLock.Lock()
	defer c.stateLock.Unlock()
	conf, err := sealconf.Read(ctx, c.physical)
	if err != nil {
		return nil, err
	}
	if conf != nil {
		return nil, ErrAlreadyInitialized
	}
	rootKey, err := randomKey()
	if err != nil {
		return nil, err
	}
	defer clear(rootKey)
	conf, shares, err := c.wrapRootKey(ctx, rootKey, seal.Split{Shares: p.SecretShares, Threshold: p.SecretThreshold})
	if err != nil {
		return nil, err
	}
	var recovery [][]byte
	handedOut := false
	defer func() {
		if !handedOut {
			for _, s := range append(shares, recovery...) {
				clear(s)
			}
		}
	}()
	if p.RecoveryShares > 0 {
		if recovery, err = c.addRecoveryKey(ctx, conf, seal.Split{Shares: p.RecoveryShares, Threshold: p.RecoveryThreshold}); err != nil {
			return nil, err
		}
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
	// Only the root token is made: nothing is revoked, so the token store
	// needs no unsealed state behind it.
	tokens, err := c.openTokens(ctx, &unsealed{})
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
	// The seal configuration is written last: its presence is what marks
	// the server initialised, so a crash before this point allows init again.
	if err := sealconf.Write(ctx, c.physical, conf); err != nil {
		return nil, err
	}
	c.log.Info("arca initialized", "seal", conf.Type, "shares", conf.Shares, "threshold", conf.Threshold, "recovery_shares", conf.RecoveryShares, "recovery_threshold", conf.RecoveryThreshold)
	handedOut = true
	return &InitResult{Shares: shares, RecoveryShares: recovery, RootToken: rootToken}, nil
}
