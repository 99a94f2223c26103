// Package sealconf is the seal configuration core keeps outside the
// barrier: which seal protects the root key, how its key shares and
// recovery shares are split, and the root key and recovery key as the
// seal wrapped them. It is one storage entry, so that every change to it
// (init, rekey, seal migration) is one atomic Put: a crash leaves either
// the old configuration or the new one, never half of each.
package sealconf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/storage"
)

// Path is the storage key of the configuration, outside the barrier.
const Path = barrier.ReservedPrefix + "seal-config"

// Config is the stored seal configuration.
type Config struct {
	// Type is the seal that wrapped the root key (seal.Seal.Type).
	Type string `json:"type"`
	// Shares and Threshold are the unseal key shares of a seal that needs
	// people; zero for a seal that unseals by itself.
	Shares    int `json:"secret_shares"`
	Threshold int `json:"secret_threshold"`
	// RecoveryShares and RecoveryThreshold are the recovery key shares of
	// a seal that unseals by itself: they authorise operations (rekey,
	// generate-root, seal migration), never unseal. SealedRecoveryKey is
	// the recovery key (Tag) as the seal wrapped it. All zero when init
	// asked for no recovery shares.
	RecoveryShares    int    `json:"recovery_shares,omitempty"`
	RecoveryThreshold int    `json:"recovery_threshold,omitempty"`
	SealedRecoveryKey []byte `json:"sealed_recovery_key,omitempty"`
	// Nonce changes at every write so clients can tell configurations apart.
	Nonce string `json:"nonce"`
	// SealedRootKey is the root key as the seal wrapped it; only that seal
	// can read it.
	SealedRootKey []byte `json:"sealed_root_key"`
}

// Split is how the unseal key shares are split.
func (c *Config) Split() seal.Split {
	return seal.Split{Shares: c.Shares, Threshold: c.Threshold}
}

// RecoverySplit is how the recovery key shares are split.
func (c *Config) RecoverySplit() seal.Split {
	return seal.Split{Shares: c.RecoveryShares, Threshold: c.RecoveryThreshold}
}

// Read returns the stored configuration, or nil before init.
func Read(ctx context.Context, b storage.Backend) (*Config, error) {
	e, err := b.Get(ctx, Path)
	if err != nil {
		return nil, fmt.Errorf("reading seal configuration: %w", err)
	}
	if e == nil {
		return nil, nil
	}
	var conf Config
	if err := json.Unmarshal(e.Value, &conf); err != nil {
		return nil, fmt.Errorf("decoding seal configuration: %w", err)
	}
	return &conf, nil
}

// Write stores conf in one Put.
func Write(ctx context.Context, b storage.Backend, conf *Config) error {
	v, err := json.Marshal(conf)
	if err != nil {
		return err
	}
	if err := b.Put(ctx, &storage.Entry{Key: Path, Value: v}); err != nil {
		return fmt.Errorf("writing seal configuration: %w", err)
	}
	return nil
}

// recoveryKeyTag comes before the recovery key in what the seal wraps.
// Unwrapped, a recovery key is never a root key's length, so neither
// wrapped blob can stand in for the other.
const recoveryKeyTag = "arca recovery key v1\x00"

// ErrNotRecoveryKey: what the seal unwrapped as the recovery key is not one.
var ErrNotRecoveryKey = errors.New("the stored recovery key is not one")

// TagRecoveryKey returns key behind the recovery key tag, for the seal to
// wrap. The caller wipes the result.
func TagRecoveryKey(key []byte) []byte {
	return append([]byte(recoveryKeyTag), key...)
}

// UntagRecoveryKey returns the recovery key in tagged (a slice of it), or
// ErrNotRecoveryKey.
func UntagRecoveryKey(tagged []byte) ([]byte, error) {
	key, ok := bytes.CutPrefix(tagged, []byte(recoveryKeyTag))
	if !ok || len(key) != barrier.KeySize {
		return nil, ErrNotRecoveryKey
	}
	return key, nil
}

// WrapRecoveryKey has s wrap the recovery key key (tagged).
func WrapRecoveryKey(ctx context.Context, s seal.Seal, key []byte) ([]byte, error) {
	tagged := TagRecoveryKey(key)
	defer clear(tagged)
	wrapped, _, err := s.Wrap(ctx, tagged, seal.Split{})
	if err != nil {
		return nil, fmt.Errorf("%s seal: wrapping the recovery key: %w", s.Type(), err)
	}
	return wrapped, nil
}
