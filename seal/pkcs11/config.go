package pkcs11

import (
	"fmt"
	"strconv"
	"strings"

	p11 "github.com/miekg/pkcs11"
)

// Mechanism is how the key in the token protects the root key.
type Mechanism int

const (
	// AESGCM (CKM_AES_GCM, the default): a 256-bit AES key encrypts the
	// root key with a fresh 96-bit nonce and a 128-bit tag.
	AESGCM Mechanism = iota
	// RSAOAEP (CKM_RSA_PKCS_OAEP): the public half of an RSA key pair
	// encrypts the root key (OAEP with Config.OAEPHash); the private
	// half, which never leaves the token, decrypts it.
	RSAOAEP
)

// OAEPHash is the hash of RSA-OAEP (and of its MGF1).
type OAEPHash int

const (
	// SHA256 is the default.
	SHA256 OAEPHash = iota
	// SHA1 is for tokens that know no other (SoftHSM2 2.6). OAEP's
	// security does not rest on SHA-1's collision resistance.
	SHA1
)

// ParseOAEPHash reads Vault's rsa_oaep_hash: "sha256" (or empty) or
// "sha1".
func ParseOAEPHash(s string) (OAEPHash, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "sha256":
		return SHA256, nil
	case "sha1":
		return SHA1, nil
	}
	return 0, fmt.Errorf("%w: rsa_oaep_hash %q is not supported (sha256 or sha1)", ErrConfig, s)
}

func (h OAEPHash) String() string {
	if h == SHA1 {
		return "sha1"
	}
	return "sha256"
}

// String is the mechanism's PKCS#11 name.
func (m Mechanism) String() string {
	switch m {
	case AESGCM:
		return "CKM_AES_GCM"
	case RSAOAEP:
		return "CKM_RSA_PKCS_OAEP"
	}
	return fmt.Sprintf("Mechanism(%d)", int(m))
}

func (m Mechanism) ckm() uint {
	if m == RSAOAEP {
		return p11.CKM_RSA_PKCS_OAEP
	}
	return p11.CKM_AES_GCM
}

// ParseMechanism reads a mechanism as Vault's pkcs11 seal takes it: its
// PKCS#11 name, or its number in decimal or 0x hexadecimal ("0x1087" is
// CKM_AES_GCM, "0x0009" CKM_RSA_PKCS_OAEP). Empty is AESGCM.
func ParseMechanism(s string) (Mechanism, error) {
	s = strings.TrimSpace(s)
	switch strings.ToUpper(s) {
	case "", "CKM_AES_GCM", "AES-GCM", "AES_GCM":
		return AESGCM, nil
	case "CKM_RSA_PKCS_OAEP", "RSA-OAEP", "RSA_OAEP":
		return RSAOAEP, nil
	}
	n, err := strconv.ParseUint(s, 0, 32)
	if err == nil {
		switch n {
		case p11.CKM_AES_GCM:
			return AESGCM, nil
		case p11.CKM_RSA_PKCS_OAEP:
			return RSAOAEP, nil
		}
	}
	return 0, fmt.Errorf("%w: mechanism %q is not supported (CKM_AES_GCM or CKM_RSA_PKCS_OAEP)", ErrConfig, s)
}

// Config says where the seal's key is and how to use it.
type Config struct {
	// Lib is the path of the PKCS#11 module (a shared library), such as
	// /usr/lib/softhsm/libsofthsm2.so. Required.
	Lib string
	// Slot is the slot holding the token; TokenLabel finds it by its
	// label instead. Exactly one of them is set.
	Slot       *uint
	TokenLabel string
	// PIN logs in as the token's user. It is never logged nor put in an
	// error; String redacts it.
	PIN string
	// KeyLabel is the CKA_LABEL of the key (AES) or key pair (RSA).
	// Required.
	KeyLabel string
	// Mechanism is AESGCM unless set.
	Mechanism Mechanism
	// OAEPHash is the hash RSA-OAEP wraps with (SHA256 unless set); a
	// wrapped key records its own, so changing it needs no migration.
	OAEPHash OAEPHash
	// GenerateKey makes the key in the token when none has KeyLabel, at
	// the first wrap (init). An existing key is never replaced, and
	// unwrapping never makes one.
	GenerateKey bool
}

// String describes c without its PIN.
func (c Config) String() string {
	where := "token " + strconv.Quote(c.TokenLabel)
	if c.Slot != nil {
		where = fmt.Sprintf("slot %d", *c.Slot)
	}
	return fmt.Sprintf("pkcs11 seal {lib %q, %s, key %q, %v, generate_key %v, pin redacted}", c.Lib, where, c.KeyLabel, c.Mechanism, c.GenerateKey)
}

// GoString is String: %#v never prints the PIN either.
func (c Config) GoString() string { return c.String() }

func (c Config) check() error {
	switch {
	case c.Lib == "":
		return fmt.Errorf("%w: lib (the PKCS#11 module's path) is required", ErrConfig)
	case c.Slot == nil && c.TokenLabel == "":
		return fmt.Errorf("%w: slot or token_label is required", ErrConfig)
	case c.Slot != nil && c.TokenLabel != "":
		return fmt.Errorf("%w: set slot or token_label, not both", ErrConfig)
	case c.KeyLabel == "":
		return fmt.Errorf("%w: key_label is required", ErrConfig)
	case c.PIN == "":
		return fmt.Errorf("%w: no PIN: set pin in the seal block or the ARCA_HSM_PIN environment variable", ErrConfig)
	case c.Mechanism != AESGCM && c.Mechanism != RSAOAEP:
		return fmt.Errorf("%w: unknown mechanism %v", ErrConfig, c.Mechanism)
	}
	return nil
}
