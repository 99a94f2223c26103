package cli

import (
	"fmt"
	"log/slog"

	"github.com/arca-secrets/arca/internal/config"
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/seal/shamir"
)

// openSeal builds the seal a seal block names (the zero value: Shamir).
// The config package has refused unknown types already.
func openSeal(conf config.Seal, log *slog.Logger) (seal.Seal, error) {
	switch conf.Type {
	case "", "shamir":
		return shamir.New(), nil
	case "transit":
		return openTransitSeal(conf.Transit, log)
	}
	return nil, fmt.Errorf("unknown seal type %q", conf.Type)
}
