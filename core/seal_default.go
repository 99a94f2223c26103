package core

import (
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/seal/shamir"
)

// sealOrDefault is s, or the Shamir seal when the configuration names
// none. It is the only place core names an implementation of seal.Seal
// (a test keeps it so): everything else speaks to the interface.
func sealOrDefault(s seal.Seal) seal.Seal {
	if s == nil {
		return shamir.New()
	}
	return s
}
