// Package assemble builds a server's parts from its configuration: the
// storage backend (raft's node included), the seal, and the loop that
// unseals a server whose seal needs no one. The CLI's server command
// wires them to core and the listeners.
package assemble

import (
	"fmt"
	"log/slog"

	"github.com/arca-secrets/arca/internal/config"
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/seal/shamir"
)

// OpenSeal builds the seal a seal block names (the zero value: Shamir).
// The config package has refused unknown types already.
func OpenSeal(conf config.Seal, log *slog.Logger) (seal.Seal, error) {
	switch conf.Type {
	case "", "shamir":
		return shamir.New(), nil
	case "pkcs11":
		return openPKCS11(conf.PKCS11)
	case "transit":
		return openTransitSeal(conf.Transit, log)
	}
	return nil, fmt.Errorf("unknown seal type %q", conf.Type)
}
