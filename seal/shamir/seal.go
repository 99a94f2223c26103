package shamir

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/seal"
)

// boundTo is the associated data the wrapped root key is bound to. It is
// the storage key where core keeps the seal configuration, as it was when
// core sealed the root key itself: servers initialised then still unseal.
const boundTo = barrier.ReservedPrefix + "seal-config"

// maxShares is the most shares one split can make: x coordinates are the
// nonzero bytes.
const maxShares = 255

// Seal wraps the root key with a 32-byte unseal key made at each Wrap and
// split into shares. With one share the share is the unseal key itself.
// It holds no state: the key exists only inside Wrap and Unwrap.
type Seal struct{}

var (
	_ seal.Seal         = (*Seal)(nil)
	_ seal.ShareChecker = (*Seal)(nil)
	_ seal.KeyWrapper   = (*Seal)(nil)
)

// New returns the Shamir seal.
func New() *Seal { return &Seal{} }

// Type is "shamir".
func (*Seal) Type() string { return "shamir" }

// AutoUnseal is false: people bring the shares.
func (*Seal) AutoUnseal() bool { return false }

// Health is always nil: the key is in people's hands, not out of reach.
func (*Seal) Health(context.Context) error { return nil }

func checkSplit(split seal.Split) error {
	n, k := split.Shares, split.Threshold
	switch {
	case n < 1 || n > maxShares:
		return fmt.Errorf("%w: shares must be between 1 and %d, got %d", seal.ErrInvalidSplit, maxShares, n)
	case k < 1 || k > n:
		return fmt.Errorf("%w: threshold must be between 1 and the number of shares (%d), got %d", seal.ErrInvalidSplit, n, k)
	case n > 1 && k == 1:
		return fmt.Errorf("%w: a threshold of 1 needs exactly 1 share", seal.ErrInvalidSplit)
	}
	return nil
}

// Wrap makes a new unseal key, seals rootKey with it and returns the key
// split into split.Shares shares, any split.Threshold of which unwrap.
func (*Seal) Wrap(_ context.Context, rootKey []byte, split seal.Split) ([]byte, [][]byte, error) {
	if err := checkSplit(split); err != nil {
		return nil, nil, err
	}
	key := make([]byte, barrier.KeySize)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return nil, nil, fmt.Errorf("generating unseal key: %w", err)
	}
	wrapped, err := barrier.SealWithKey(key, boundTo, rootKey)
	if err != nil {
		return nil, nil, fmt.Errorf("wrapping root key: %w", err)
	}
	if split.Shares == 1 {
		return wrapped, [][]byte{append([]byte(nil), key...)}, nil
	}
	shares, err := Split(key, split.Shares, split.Threshold)
	if err != nil {
		return nil, nil, fmt.Errorf("splitting unseal key: %w", err)
	}
	return wrapped, shares, nil
}

// WrapWithKey seals rootKey with key, an unseal key whose shares people
// hold already (a recovery key, in a seal migration).
func (*Seal) WrapWithKey(_ context.Context, rootKey, key []byte) ([]byte, error) {
	if len(key) != barrier.KeySize {
		return nil, fmt.Errorf("%w: an unseal key is %d bytes, got %d", seal.ErrInvalidShare, barrier.KeySize, len(key))
	}
	wrapped, err := barrier.SealWithKey(key, boundTo, rootKey)
	if err != nil {
		return nil, fmt.Errorf("wrapping root key: %w", err)
	}
	return wrapped, nil
}

// Unwrap combines shares into the unseal key and opens wrapped with it.
// Too few, wrong or mixed shares give ErrUnwrap: Combine cannot tell, the
// authenticated ciphertext can.
func (*Seal) Unwrap(_ context.Context, wrapped []byte, shares [][]byte) ([]byte, error) {
	var key []byte
	switch len(shares) {
	case 0:
		return nil, fmt.Errorf("%w: no key shares given", seal.ErrUnwrap)
	case 1:
		key = append([]byte(nil), shares[0]...)
	default:
		var err error
		if key, err = Combine(shares); err != nil {
			return nil, fmt.Errorf("%w: %w", seal.ErrUnwrap, err)
		}
	}
	defer clear(key)
	if len(key) != barrier.KeySize {
		return nil, seal.ErrUnwrap
	}
	root, err := barrier.OpenWithKey(key, boundTo, wrapped)
	if err != nil {
		return nil, seal.ErrUnwrap
	}
	return root, nil
}

// CheckShare refuses a share whose length does not fit split: the unseal
// key itself with a threshold of 1, the key and its x coordinate otherwise.
func (*Seal) CheckShare(share []byte, split seal.Split) error {
	want := barrier.KeySize + 1
	if split.Threshold == 1 {
		want = barrier.KeySize
	}
	if len(share) != want {
		return fmt.Errorf("%w: a key share is %d bytes, got %d", seal.ErrInvalidShare, want, len(share))
	}
	return nil
}
