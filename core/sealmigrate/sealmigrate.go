// Package sealmigrate moves the root key from one seal to another, as
// Vault's seal migration does, and keeps the shares people hold working:
// the key unseal shares combine to becomes the new seal's recovery key, a
// recovery key becomes the new unseal key, and a recovery key moves from
// one seal that unseals by itself to the next. It computes the new seal
// configuration and stores nothing: core stores it in one Put and
// unseals. The root key and everything it protects stay as they were.
package sealmigrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/arca-secrets/arca/core/sealconf"
	"github.com/arca-secrets/arca/seal"
)

// Errors of a migration, matched with errors.Is.
var (
	// ErrUnsupported: a seal that needs people whose shares cannot become
	// recovery shares (it is not a seal.KeyWrapper), or an old seal that
	// unseals by itself with no recovery key to authorise the migration.
	ErrUnsupported = errors.New("seal migration not supported")
	// ErrSharesRejected: the old seal's unseal shares do not open the
	// root key.
	ErrSharesRejected = errors.New("the unseal key shares do not open the root key")
)

// Migration is one migration: the seals, and how core checks shares.
type Migration struct {
	From, To seal.Seal
	// Combine returns the key shares combine to (Shamir's scheme).
	Combine func(shares [][]byte) ([]byte, error)
	// RecoveryKey returns the recovery key shares combine to when From
	// protects it in conf, and an error when they do not.
	RecoveryKey func(ctx context.Context, conf *sealconf.Config, shares [][]byte) ([]byte, error)
}

// Split is how the shares that authorise the migration of conf are
// split: From's unseal shares, or its recovery shares.
func (m *Migration) Split(conf *sealconf.Config) seal.Split {
	if m.From.AutoUnseal() {
		return conf.RecoverySplit()
	}
	return conf.Split()
}

// Check refuses, before any share is taken, a migration that could not
// keep people's shares.
func (m *Migration) Check(conf *sealconf.Config) error {
	for _, s := range []seal.Seal{m.From, m.To} {
		if _, ok := s.(seal.KeyWrapper); !s.AutoUnseal() && !ok {
			return fmt.Errorf("%w with the %q seal: its key shares cannot become recovery shares", ErrUnsupported, s.Type())
		}
	}
	if m.From.AutoUnseal() && conf.RecoveryShares == 0 {
		return fmt.Errorf("%w: migrating from the %q seal needs its recovery shares, and this server was initialised without them", ErrUnsupported, m.From.Type())
	}
	return nil
}

// Run has From unwrap the root key of conf with shares and To wrap it,
// and returns the configuration to store and the root key (the caller
// wipes it); the new configuration has nonce. To opens what it wrapped
// before Run returns.
func (m *Migration) Run(ctx context.Context, conf *sealconf.Config, shares [][]byte, nonce string) (*sealconf.Config, []byte, error) {
	if err := m.Check(conf); err != nil {
		return nil, nil, err
	}
	rootKey, key, err := m.open(ctx, conf, shares)
	if err != nil {
		return nil, nil, err
	}
	defer clear(key)
	next, err := m.wrap(ctx, rootKey, key, m.Split(conf), shares)
	if err == nil {
		next.Nonce = nonce
	}
	if err != nil {
		clear(rootKey)
		return nil, nil, err
	}
	return next, rootKey, nil
}

// open returns the root key and the key the shares combine to (the
// unseal key, or the recovery key).
func (m *Migration) open(ctx context.Context, conf *sealconf.Config, shares [][]byte) (rootKey, key []byte, err error) {
	if m.From.AutoUnseal() {
		if key, err = m.RecoveryKey(ctx, conf, shares); err != nil {
			return nil, nil, err
		}
		shares = nil
	} else if key, err = m.Combine(shares); err != nil {
		return nil, nil, ErrSharesRejected
	}
	rootKey, err = m.From.Unwrap(ctx, conf.SealedRootKey, shares)
	switch {
	case errors.Is(err, seal.ErrUnwrap) && !m.From.AutoUnseal():
		err = ErrSharesRejected
	case err != nil:
		err = fmt.Errorf("%s seal: unwrapping the root key: %w", m.From.Type(), err)
	}
	if err != nil {
		clear(key)
		return nil, nil, err
	}
	return rootKey, key, nil
}

// wrap has To wrap rootKey, keeping key and split for people's shares,
// and checks that To opens the result with those shares.
func (m *Migration) wrap(ctx context.Context, rootKey, key []byte, split seal.Split, shares [][]byte) (*sealconf.Config, error) {
	to := m.To
	next := &sealconf.Config{Type: to.Type()}
	var err error
	if to.AutoUnseal() {
		if next.SealedRootKey, _, err = to.Wrap(ctx, rootKey, seal.Split{}); err != nil {
			return nil, fmt.Errorf("%s seal: wrapping the root key: %w", to.Type(), err)
		}
		if next.SealedRecoveryKey, err = sealconf.WrapRecoveryKey(ctx, to, key); err != nil {
			return nil, err
		}
		next.RecoveryShares, next.RecoveryThreshold = split.Shares, split.Threshold
		shares = nil
	} else {
		if next.SealedRootKey, err = to.(seal.KeyWrapper).WrapWithKey(ctx, rootKey, key); err != nil {
			return nil, fmt.Errorf("%s seal: wrapping the root key: %w", to.Type(), err)
		}
		next.Shares, next.Threshold = split.Shares, split.Threshold
	}
	back, err := to.Unwrap(ctx, next.SealedRootKey, shares)
	if err != nil {
		return nil, fmt.Errorf("%s seal: checking the migrated root key: %w", to.Type(), err)
	}
	defer clear(back)
	if !bytes.Equal(back, rootKey) {
		return nil, fmt.Errorf("%s seal: the migrated root key does not open to the root key", to.Type())
	}
	return next, nil
}
