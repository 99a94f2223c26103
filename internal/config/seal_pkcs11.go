package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/hcl/hcl/token"
)

// PKCS11Seal is a seal "pkcs11" block, with Vault's key names: the root
// key is protected by a key that never leaves an HSM. The server builds
// the seal from it (seal/pkcs11), taking the PIN from ARCA_HSM_PIN or
// VAULT_HSM_PIN when one is set.
type PKCS11Seal struct {
	// Lib is lib: the PKCS#11 module's path. Required.
	Lib string
	// Slot is slot, TokenLabel token_label: where the token is; exactly
	// one is set. Slot is nil when absent (0 is a slot).
	Slot       *uint
	TokenLabel string
	// PIN is pin: the token user's PIN. Optional here, then taken from the
	// environment. String redacts it.
	PIN string
	// KeyLabel is key_label: the key's CKA_LABEL. Required.
	KeyLabel string
	// Mechanism is mechanism: "CKM_AES_GCM" (the default) or
	// "CKM_RSA_PKCS_OAEP", however the file spelled it (name, decimal or
	// 0x hexadecimal).
	Mechanism string
	// RSAOAEPHash is rsa_oaep_hash: "sha256" (default) or "sha1".
	RSAOAEPHash string
	// GenerateKey is generate_key: make the key at init when the token
	// has none with KeyLabel.
	GenerateKey bool
}

// String describes the block without its PIN.
func (s PKCS11Seal) String() string {
	slot := "unset"
	if s.Slot != nil {
		slot = strconv.FormatUint(uint64(*s.Slot), 10)
	}
	return fmt.Sprintf(`seal "pkcs11" {lib %q, slot %s, token_label %q, key_label %q, mechanism %q, rsa_oaep_hash %q, generate_key %v, pin redacted}`,
		s.Lib, slot, s.TokenLabel, s.KeyLabel, s.Mechanism, s.RSAOAEPHash, s.GenerateKey)
}

// GoString is String: %#v never prints the PIN either.
func (s PKCS11Seal) GoString() string { return s.String() }

// pkcs11Mechanisms are the mechanism spellings the seal takes, by
// canonical name.
var pkcs11Mechanisms = map[string]string{
	"CKM_AES_GCM": "CKM_AES_GCM", "0X1087": "CKM_AES_GCM", "4231": "CKM_AES_GCM",
	"CKM_RSA_PKCS_OAEP": "CKM_RSA_PKCS_OAEP", "0X0009": "CKM_RSA_PKCS_OAEP", "0X9": "CKM_RSA_PKCS_OAEP", "9": "CKM_RSA_PKCS_OAEP",
}

// pkcs11Seal parses the body of seal "pkcs11" { ... } at pos.
func (p *parser) pkcs11Seal(pos token.Pos, body *ast.ObjectList) PKCS11Seal {
	const label = `seal "pkcs11"`
	s := PKCS11Seal{Mechanism: "CKM_AES_GCM", RSAOAEPHash: "sha256"}
	for _, it := range body.Items {
		key := label + ": " + keyName(it.Keys[0])
		switch k := keyName(it.Keys[0]); k {
		case "lib":
			s.Lib = p.str(it, key)
		case "slot":
			s.Slot = p.slot(it, key)
		case "token_label":
			s.TokenLabel = p.str(it, key)
		case "pin":
			s.PIN = p.str(it, key)
		case "key_label":
			s.KeyLabel = p.str(it, key)
		case "generate_key":
			s.GenerateKey = p.boolean(it, key)
		case "mechanism":
			m := p.numberOrString(it, key)
			if c, ok := pkcs11Mechanisms[strings.ToUpper(strings.TrimSpace(m))]; ok {
				s.Mechanism = c
			} else if m != "" {
				p.errorf(it.Keys[0].Pos(), key, "unsupported mechanism %q (CKM_AES_GCM, 0x1087; CKM_RSA_PKCS_OAEP, 0x0009)", m)
			}
		case "rsa_oaep_hash":
			switch h := strings.ToLower(p.str(it, key)); h {
			case "sha256", "sha1":
				s.RSAOAEPHash = h
			default:
				p.errorf(it.Keys[0].Pos(), key, "must be sha256 or sha1, got %q", h)
			}
		default:
			p.errorf(it.Keys[0].Pos(), label, "unknown key %q (the pkcs11 seal takes lib, slot, token_label, pin, key_label, mechanism, rsa_oaep_hash, generate_key)", k)
		}
	}
	switch {
	case s.Lib == "":
		p.errorf(pos, label, "lib is required: the path of the PKCS#11 module, such as /usr/lib/softhsm/libsofthsm2.so")
	case s.Slot == nil && s.TokenLabel == "":
		p.errorf(pos, label, "slot or token_label is required")
	case s.Slot != nil && s.TokenLabel != "":
		p.errorf(pos, label, "set slot or token_label, not both")
	case s.KeyLabel == "":
		p.errorf(pos, label, "key_label is required")
	}
	return s
}

// slot reads a slot number, written as a number or a string as Vault
// allows.
func (p *parser) slot(item *ast.ObjectItem, key string) *uint {
	v := p.numberOrString(item, key)
	n, err := strconv.ParseUint(strings.TrimSpace(v), 0, 32)
	if err != nil {
		p.errorf(item.Keys[0].Pos(), key, "must be a slot number, got %q", v)
		return nil
	}
	u := uint(n)
	return &u
}

// numberOrString returns a number's or a string's text.
func (p *parser) numberOrString(item *ast.ObjectItem, key string) string {
	tok, ok := p.literal(item, key)
	if !ok {
		return ""
	}
	switch tok.Type {
	case token.STRING:
		s, _ := tok.Value().(string)
		return s
	case token.NUMBER:
		return tok.Text
	}
	p.errorf(item.Keys[0].Pos(), key, "must be a number or a string")
	return ""
}
