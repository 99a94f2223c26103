package core

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/storage"
)

const (
	sealConfigPath = barrier.ReservedPrefix + "seal-config"
)

// sealConfig is stored outside the barrier: which seal protects the root
// key, how its key shares are split, and the root key as the seal wrapped
// it. All live in one entry so that a rekey replaces them in one atomic
// write: a crash can never leave a root key wrapped for new shares beside
// a configuration for the old ones.
type sealConfig struct {
	// Type is the seal that wrapped the root key (seal.Seal.Type).
	Type string `json:"type"`
	// Shares and Threshold are the unseal key shares of a seal that needs
	// people; zero for a seal that unseals by itself.
	Shares    int `json:"secret_shares"`
	Threshold int `json:"secret_threshold"`
	// RecoveryShares and RecoveryThreshold are the recovery key shares of
	// a seal that unseals by itself: they authorise operations (rekey,
	// generate-root, migration), never unseal. SealedRecoveryKey is the
	// recovery key as the seal wrapped it (seal_recovery.go). All zero
	// when init asked for no recovery shares.
	RecoveryShares    int    `json:"recovery_shares,omitempty"`
	RecoveryThreshold int    `json:"recovery_threshold,omitempty"`
	SealedRecoveryKey []byte `json:"sealed_recovery_key,omitempty"`
	// Nonce changes at every rekey so clients can tell configurations apart.
	Nonce string `json:"nonce"`
	// SealedRootKey is the root key as the seal wrapped it; only that seal
	// can read it.
	SealedRootKey []byte `json:"sealed_root_key"`
}

// split is how the unseal key shares of conf are split.
func (conf *sealConfig) split() seal.Split {
	return seal.Split{Shares: conf.Shares, Threshold: conf.Threshold}
}

// validateSplit refuses shares and threshold no seal should make; kind
// names the fields ("secret" or "recovery").
func validateSplit(kind string, shares, threshold int) error {
	if err := (seal.Split{Shares: shares, Threshold: threshold}).Validate(kind); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	return nil
}

func (c *Core) readSealConfig(ctx context.Context) (*sealConfig, error) {
	e, err := c.physical.Get(ctx, sealConfigPath)
	if err != nil {
		return nil, fmt.Errorf("reading seal configuration: %w", err)
	}
	if e == nil {
		return nil, nil
	}
	var conf sealConfig
	if err := json.Unmarshal(e.Value, &conf); err != nil {
		return nil, fmt.Errorf("decoding seal configuration: %w", err)
	}
	return &conf, nil
}

func (c *Core) writeSealConfig(ctx context.Context, conf *sealConfig) error {
	b, err := json.Marshal(conf)
	if err != nil {
		return err
	}
	if err := c.physical.Put(ctx, &storage.Entry{Key: sealConfigPath, Value: b}); err != nil {
		return fmt.Errorf("writing seal configuration: %w", err)
	}
	return nil
}

func randomKey() ([]byte, error) {
	k := make([]byte, barrier.KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	return k, nil
}

// wrapRootKey has the seal wrap rootKey and returns the configuration to
// store, and the new unseal key shares for a seal that needs people (the
// caller hands them out and they are its to wipe).
func (c *Core) wrapRootKey(ctx context.Context, rootKey []byte, split seal.Split) (*sealConfig, [][]byte, error) {
	wrapped, shares, err := c.seal.Wrap(ctx, rootKey, split)
	switch {
	case errors.Is(err, seal.ErrInvalidSplit):
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	case err != nil:
		return nil, nil, fmt.Errorf("%s seal: wrapping the root key: %w", c.seal.Type(), err)
	}
	nonce, err := randomID()
	if err != nil {
		return nil, nil, err
	}
	conf := &sealConfig{Type: c.seal.Type(), Nonce: nonce, SealedRootKey: wrapped}
	if !c.seal.AutoUnseal() {
		conf.Shares, conf.Threshold = split.Shares, split.Threshold
	}
	return conf, shares, nil
}

// unwrapRootKey has the seal open the stored root key with shares (none
// for a seal that unseals by itself). Shares that do not open it give
// ErrUnsealFailed. The caller wipes the result.
func (c *Core) unwrapRootKey(ctx context.Context, conf *sealConfig, shares [][]byte) ([]byte, error) {
	if err := c.matchSeal(conf); err != nil {
		return nil, err
	}
	root, err := c.seal.Unwrap(ctx, conf.SealedRootKey, shares)
	switch {
	case errors.Is(err, seal.ErrUnwrap) && !c.seal.AutoUnseal():
		return nil, ErrUnsealFailed
	case err != nil:
		return nil, fmt.Errorf("%s seal: unwrapping the root key: %w", c.seal.Type(), err)
	}
	if len(root) != barrier.KeySize {
		clear(root)
		return nil, fmt.Errorf("%s seal: unwrapped a root key of %d bytes, want %d", c.seal.Type(), len(root), barrier.KeySize)
	}
	return root, nil
}

// matchSeal refuses a configuration that another seal wrote: its shares
// and wrapped root key mean nothing to the configured seal.
func (c *Core) matchSeal(conf *sealConfig) error {
	if conf.Type != c.seal.Type() {
		return &SealMismatchError{Stored: conf.Type, Configured: c.seal.Type()}
	}
	return nil
}

// checkShare refuses a share the seal can tell is malformed on its own.
func (c *Core) checkShare(share []byte, split seal.Split) error {
	sc, ok := c.seal.(seal.ShareChecker)
	if !ok {
		return nil
	}
	if err := sc.CheckShare(share, split); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidUnsealKey, err)
	}
	return nil
}
