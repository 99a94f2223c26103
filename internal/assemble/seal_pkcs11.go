package assemble

import (
	"fmt"
	"os"

	"github.com/arca-secrets/arca/internal/config"
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/seal/pkcs11"
)

// hsmPINVars are the environment variables that give the HSM PIN, first
// found first; either overrides the seal block's pin, so that the PIN
// need not be written in the file. VAULT_HSM_PIN is Vault's name.
var hsmPINVars = []string{"ARCA_HSM_PIN", "VAULT_HSM_PIN"}

// openPKCS11 builds the PKCS#11 seal from its block. The config package
// has checked the block's keys and spellings.
func openPKCS11(conf config.PKCS11Seal) (seal.Seal, error) {
	mech, err := pkcs11.ParseMechanism(conf.Mechanism)
	if err != nil {
		return nil, err
	}
	hash, err := pkcs11.ParseOAEPHash(conf.RSAOAEPHash)
	if err != nil {
		return nil, err
	}
	pin := conf.PIN
	for _, v := range hsmPINVars {
		if p := os.Getenv(v); p != "" {
			pin = p
			break
		}
	}
	s, err := pkcs11.New(pkcs11.Config{
		Lib: conf.Lib, Slot: conf.Slot, TokenLabel: conf.TokenLabel, PIN: pin,
		KeyLabel: conf.KeyLabel, Mechanism: mech, OAEPHash: hash, GenerateKey: conf.GenerateKey,
	})
	if err != nil {
		return nil, fmt.Errorf("pkcs11 seal: %w", err)
	}
	return s, nil
}
