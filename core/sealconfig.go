package core

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/seal/shamir"
	"github.com/arca-secrets/arca/storage"
)

const (
	sealConfigPath = barrier.ReservedPrefix + "seal-config"
	maxShares      = 255
)

// sealConfig is stored outside the barrier: how the unseal key is split,
// and the root key sealed with the unseal key. Both live in one entry so
// that a rekey replaces them in one atomic write: a crash can never leave a
// root key sealed by new shares beside a configuration for the old ones.
type sealConfig struct {
	Type      string `json:"type"`
	Shares    int    `json:"secret_shares"`
	Threshold int    `json:"secret_threshold"`
	// Nonce changes at every rekey so clients can tell configurations apart.
	Nonce string `json:"nonce"`
	// SealedRootKey is the root key sealed with the unseal key (format of
	// barrier.SealWithKey, bound to sealConfigPath).
	SealedRootKey []byte `json:"sealed_root_key"`
}

func validateShares(shares, threshold int) error {
	switch {
	case shares < 1:
		return fmt.Errorf("%w: secret_shares must be at least 1", ErrInvalidRequest)
	case shares > maxShares:
		return fmt.Errorf("%w: secret_shares must be at most %d", ErrInvalidRequest, maxShares)
	case threshold < 1:
		return fmt.Errorf("%w: secret_threshold must be at least 1", ErrInvalidRequest)
	case threshold > shares:
		return fmt.Errorf("%w: secret_threshold (%d) cannot be larger than secret_shares (%d)", ErrInvalidRequest, threshold, shares)
	case shares > 1 && threshold == 1:
		return fmt.Errorf("%w: secret_threshold must be at least 2 when secret_shares is more than 1", ErrInvalidRequest)
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

// splitUnsealKey returns the shares of unsealKey. With one share, the share
// is the key itself (Shamir needs a threshold of at least 2).
func splitUnsealKey(unsealKey []byte, shares, threshold int) ([][]byte, error) {
	if shares == 1 {
		return [][]byte{append([]byte(nil), unsealKey...)}, nil
	}
	return shamir.Split(unsealKey, shares, threshold)
}

// combineShares reverses splitUnsealKey.
func combineShares(shares [][]byte, threshold int) ([]byte, error) {
	if threshold == 1 {
		return append([]byte(nil), shares[0]...), nil
	}
	return shamir.Combine(shares)
}

// shareLen is the length of one share for a configuration.
func shareLen(conf *sealConfig) int {
	if conf.Threshold == 1 {
		return barrier.KeySize
	}
	return barrier.KeySize + 1
}

func randomKey() ([]byte, error) {
	k := make([]byte, barrier.KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	return k, nil
}

// newSealConfig returns a configuration with rootKey sealed by unsealKey.
func newSealConfig(shares, threshold int, unsealKey, rootKey []byte) (*sealConfig, error) {
	ct, err := barrier.SealWithKey(unsealKey, sealConfigPath, rootKey)
	if err != nil {
		return nil, err
	}
	nonce, err := randomID()
	if err != nil {
		return nil, err
	}
	return &sealConfig{Type: "shamir", Shares: shares, Threshold: threshold, Nonce: nonce, SealedRootKey: ct}, nil
}

// openRootKey returns the root key, or ErrUnsealFailed when unsealKey is
// not the one it was sealed with. The caller wipes the result.
func (conf *sealConfig) openRootKey(unsealKey []byte) ([]byte, error) {
	root, err := barrier.OpenWithKey(unsealKey, sealConfigPath, conf.SealedRootKey)
	if err != nil {
		return nil, ErrUnsealFailed
	}
	return root, nil
}
