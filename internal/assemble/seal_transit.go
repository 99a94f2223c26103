package assemble

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/arca-secrets/arca/internal/config"
	"github.com/arca-secrets/arca/seal/transit"
)

// openTransitSeal builds the transit seal of a seal "transit" block. The
// token comes from the block, else ARCA_TOKEN, else VAULT_TOKEN. The
// seal renews it until the server closes the seal.
func openTransitSeal(conf *config.SealTransit, log *slog.Logger) (*transit.Seal, error) {
	tok := conf.Token
	for _, name := range []string{"ARCA_TOKEN", "VAULT_TOKEN"} {
		if tok == "" {
			tok = os.Getenv(name)
		}
	}
	s, err := transit.New(context.Background(), transit.Config{
		Address:   conf.Address,
		Token:     transit.NewToken(tok),
		MountPath: conf.MountPath,
		KeyName:   conf.KeyName,
		TLS: transit.TLSConfig{
			CACert: conf.TLSCACert, ClientCert: conf.TLSClientCert, ClientKey: conf.TLSClientKey,
			ServerName: conf.TLSServerName, SkipVerify: conf.TLSSkipVerify,
		},
		DisableRenewal: conf.DisableRenewal,
		Logger:         log,
	})
	if err != nil {
		return nil, fmt.Errorf(`seal "transit": %w`, err)
	}
	return s, nil
}
