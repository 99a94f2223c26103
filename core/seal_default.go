package core

import (
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/seal/shamir"
)

// sealOrDefault is s, or the Shamir seal when the configuration names
// none. This file is the only place core names an implementation of
// seal.Seal or of secret sharing (a test keeps it so): everything else
// speaks to the interface.
func sealOrDefault(s seal.Seal) seal.Seal {
	if s == nil {
		return shamir.New()
	}
	return s
}

// splitKey splits key into split.Shares shares, any split.Threshold of
// which combineKey turns back into key. With one share the share is the
// key itself, as with the Shamir seal.
func splitKey(key []byte, split seal.Split) ([][]byte, error) {
	if split.Shares == 1 {
		return [][]byte{append([]byte(nil), key...)}, nil
	}
	return shamir.Split(key, split.Shares, split.Threshold)
}

// combineKey is splitKey's inverse. Shares of different keys, or too few,
// combine to a wrong key without an error: the caller compares.
func combineKey(shares [][]byte) ([]byte, error) {
	if len(shares) == 1 {
		return append([]byte(nil), shares[0]...), nil
	}
	return shamir.Combine(shares)
}
