package cli

import (
	"fmt"

	"github.com/arca-secrets/arca/internal/config"
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/seal/shamir"
)

// openSeal builds the seal a seal block names (the zero value: Shamir).
// The config package has refused unknown types already.
func openSeal(conf config.Seal) (seal.Seal, error) {
	switch conf.Type {
	case "", "shamir":
		return shamir.New(), nil
	case "pkcs11":
		return openPKCS11(conf.PKCS11)
	}
	return nil, fmt.Errorf("unknown seal type %q", conf.Type)
}
