package core

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/core/sealconf"
	"github.com/arca-secrets/arca/seal"
)

// validateSplit refuses shares and threshold no seal should make; kind
// names the fields ("secret" or "recovery").
func validateSplit(kind string, shares, threshold int) error {
	if err := (seal.Split{Shares: shares, Threshold: threshold}).Validate(kind); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
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
func (c *Core) wrapRootKey(ctx context.Context, rootKey []byte, split seal.Split) (*sealconf.Config, [][]byte, error) {
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
	conf := &sealconf.Config{Type: c.seal.Type(), Nonce: nonce, SealedRootKey: wrapped}
	if !c.seal.AutoUnseal() {
		conf.Shares, conf.Threshold = split.Shares, split.Threshold
	}
	return conf, shares, nil
}

// unwrapRootKey has the seal open the stored root key with shares (none
// for a seal that unseals by itself). Shares that do not open it give
// ErrUnsealFailed. The caller wipes the result.
func (c *Core) unwrapRootKey(ctx context.Context, conf *sealconf.Config, shares [][]byte) ([]byte, error) {
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
func (c *Core) matchSeal(conf *sealconf.Config) error {
	if conf.Type != c.seal.Type() {
		return &SealMismatchError{Stored: conf.Type, Configured: c.seal.Type()}
	}
	return nil
}

// checkShareWith refuses a share the seal s can tell is malformed on its own.
func checkShareWith(s seal.Seal, share []byte, split seal.Split) error {
	sc, ok := s.(seal.ShareChecker)
	if !ok {
		return nil
	}
	if err := sc.CheckShare(share, split); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidUnsealKey, err)
	}
	return nil
}
