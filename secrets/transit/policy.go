package transit

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/arca-secrets/arca/logical"
)

// Key types, as Vault names them.
const (
	typeAES       = "aes256-gcm96"
	typeAES128    = "aes128-gcm96"
	typeChaCha    = "chacha20-poly1305"
	typeEd25519   = "ed25519"
	typeECDSAP256 = "ecdsa-p256"
	typeECDSAP384 = "ecdsa-p384"
	typeECDSAP521 = "ecdsa-p521"
	typeRSA2048   = "rsa-2048"
	typeRSA3072   = "rsa-3072"
	typeRSA4096   = "rsa-4096"
	typeHMAC      = "hmac"
)

// HMAC key sizes in bytes, as Vault bounds key_size.
const (
	defaultHMACKeySize = 32
	minHMACKeySize     = 32
	maxHMACKeySize     = 512
)

func knownType(t string) bool {
	switch t {
	case typeAES, typeAES128, typeChaCha, typeEd25519, typeECDSAP256, typeECDSAP384, typeECDSAP521,
		typeRSA2048, typeRSA3072, typeRSA4096, typeHMAC:
		return true
	}
	return false
}

func symmetric(t string) bool { return t == typeAES || t == typeAES128 || t == typeChaCha }

// symmetricKeySize is the key length in bytes of a symmetric type.
func symmetricKeySize(t string) int {
	if t == typeAES128 {
		return 16
	}
	return 32
}
func asymmetric(t string) bool { return knownType(t) && !symmetric(t) && t != typeHMAC }

// keyVersion is one version of a key. Key is the raw symmetric or HMAC key,
// or the PKCS#8 DER private key of an asymmetric one; HMACKey is a separate
// key that serves the hmac endpoint for every type but hmac. A version is
// never changed once its policy is published.
type keyVersion struct {
	Key          []byte    `json:"key"`
	HMACKey      []byte    `json:"hmac_key"`
	CreationTime time.Time `json:"creation_time"`

	// Parsed once when the policy is loaded, so that every request does
	// not pay for parsing (an RSA key takes milliseconds).
	aead   cipher.AEAD   // non-derived symmetric keys
	signer crypto.Signer // asymmetric keys
}

// String and GoString keep key bytes out of logs and error messages.
func (v *keyVersion) String() string   { return "transit key version (redacted)" }
func (v *keyVersion) GoString() string { return v.String() }

// keyPolicy is a named key with all its versions. A published policy is
// immutable: changes work on a clone and publish it whole.
type keyPolicy struct {
	Name                 string                 `json:"name"`
	Type                 string                 `json:"type"`
	Derived              bool                   `json:"derived"`
	Exportable           bool                   `json:"exportable"`
	AllowPlaintextBackup bool                   `json:"allow_plaintext_backup"`
	DeletionAllowed      bool                   `json:"deletion_allowed"`
	MinDecryptionVersion int                    `json:"min_decryption_version"`
	MinEncryptionVersion int                    `json:"min_encryption_version"`
	MinAvailableVersion  int                    `json:"min_available_version"`
	LatestVersion        int                    `json:"latest_version"`
	AutoRotatePeriod     time.Duration          `json:"auto_rotate_period"`
	HMACKeySize          int                    `json:"hmac_key_size,omitempty"`
	Versions             map[string]*keyVersion `json:"keys"`
}

func (p *keyPolicy) clone() *keyPolicy {
	c := *p
	c.Versions = make(map[string]*keyVersion, len(p.Versions))
	for k, v := range p.Versions {
		c.Versions[k] = v
	}
	return &c
}

// prepare checks every version's key material and parses it for use. It
// runs on every policy that comes from storage or a backup.
func (p *keyPolicy) prepare() error {
	if !knownType(p.Type) {
		return fmt.Errorf("unknown key type %q", p.Type)
	}
	if p.LatestVersion < 1 || p.Versions[strconv.Itoa(p.LatestVersion)] == nil {
		return fmt.Errorf("latest version %d is missing", p.LatestVersion)
	}
	if p.MinDecryptionVersion < 1 || p.MinDecryptionVersion > p.LatestVersion ||
		p.MinEncryptionVersion < 0 || p.MinEncryptionVersion > p.LatestVersion ||
		p.MinAvailableVersion < 0 || p.MinAvailableVersion > p.MinDecryptionVersion || p.AutoRotatePeriod < 0 {
		return fmt.Errorf("inconsistent version bounds")
	}
	for n, v := range p.Versions {
		if v == nil {
			return fmt.Errorf("version %s is empty", n)
		}
		if i, err := strconv.Atoi(n); err != nil || i < 1 || i > p.LatestVersion || strconv.Itoa(i) != n {
			return fmt.Errorf("version %q is not a valid version number", n)
		}
		if err := v.prepare(p.Type, p.Derived); err != nil {
			return fmt.Errorf("version %s: %w", n, err)
		}
	}
	return nil
}

func (v *keyVersion) prepare(typ string, derived bool) error {
	switch {
	case symmetric(typ):
		if len(v.Key) != symmetricKeySize(typ) {
			return fmt.Errorf("key is %d bytes, want %d", len(v.Key), symmetricKeySize(typ))
		}
		if !derived {
			a, err := newAEAD(typ, v.Key)
			if err != nil {
				return err
			}
			v.aead = a
		}
	case typ == typeHMAC:
		// Loading accepts 16 bytes up: keys made before key_size's floor
		// was raised to Vault's 32 must keep working.
		if len(v.Key) < 16 || len(v.Key) > maxHMACKeySize {
			return fmt.Errorf("hmac key is %d bytes, want %d to %d", len(v.Key), minHMACKeySize, maxHMACKeySize)
		}
	default:
		priv, err := x509.ParsePKCS8PrivateKey(v.Key)
		if err != nil {
			return fmt.Errorf("parsing private key: %w", err)
		}
		s, ok := priv.(crypto.Signer)
		if !ok || !matchesType(s, typ) {
			return fmt.Errorf("private key does not match type %s", typ)
		}
		v.signer = s
	}
	if typ != typeHMAC && len(v.HMACKey) == 0 {
		return fmt.Errorf("missing hmac key")
	}
	return nil
}

func matchesType(s crypto.Signer, typ string) bool {
	switch k := s.(type) {
	case ed25519.PrivateKey:
		return typ == typeEd25519
	case *ecdsa.PrivateKey:
		return typ == typeECDSAP256 && k.Curve == elliptic.P256() ||
			typ == typeECDSAP384 && k.Curve == elliptic.P384() ||
			typ == typeECDSAP521 && k.Curve == elliptic.P521()
	case *rsa.PrivateKey:
		return typ == typeRSA2048 && k.N.BitLen() == 2048 ||
			typ == typeRSA3072 && k.N.BitLen() == 3072 ||
			typ == typeRSA4096 && k.N.BitLen() == 4096
	}
	return false
}

func newAEAD(typ string, key []byte) (cipher.AEAD, error) {
	if typ == typeChaCha {
		return chacha20poly1305.New(key)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// errVersionTooOld and friends are the client errors of version choice.
func errKeyVersion(n int, why string) error {
	return logical.Errorf(logical.ErrInvalidRequest, "key version %d %s", n, why)
}

// version returns version n for decryption or verification: it must be at
// least min_decryption_version and not trimmed.
func (p *keyPolicy) version(n int) (*keyVersion, error) {
	if n < max(p.MinDecryptionVersion, 1) {
		return nil, errKeyVersion(n, fmt.Sprintf("is below the key's min_decryption_version (%d)", p.MinDecryptionVersion))
	}
	v := p.Versions[strconv.Itoa(n)]
	if v == nil {
		return nil, errKeyVersion(n, "does not exist")
	}
	return v, nil
}

// encryptionVersion picks the version for a new ciphertext, signature or
// HMAC: the latest, or key_version when given (it must be at least
// min_encryption_version).
func (p *keyPolicy) encryptionVersion(requested int) (int, *keyVersion, error) {
	n := p.LatestVersion
	if requested > 0 {
		if requested > p.LatestVersion {
			return 0, nil, errKeyVersion(requested, "does not exist")
		}
		if requested < p.MinEncryptionVersion {
			return 0, nil, errKeyVersion(requested, fmt.Sprintf("is below the key's min_encryption_version (%d)", p.MinEncryptionVersion))
		}
		n = requested
	}
	v, err := p.version(n)
	return n, v, err
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("reading random bytes: %w", err)
	}
	return b, nil
}

// newVersion generates a version of key material of type t.
func newVersion(t string, derived bool, hmacSize int, now time.Time) (*keyVersion, error) {
	v := &keyVersion{CreationTime: now.UTC()}
	var err error
	var priv crypto.Signer
	switch t {
	case typeAES, typeAES128, typeChaCha:
		v.Key, err = randomBytes(symmetricKeySize(t))
	case typeHMAC:
		v.Key, err = randomBytes(hmacSize)
	case typeEd25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case typeECDSAP256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case typeECDSAP384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case typeECDSAP521:
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case typeRSA2048:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case typeRSA3072:
		priv, err = rsa.GenerateKey(rand.Reader, 3072)
	case typeRSA4096:
		priv, err = rsa.GenerateKey(rand.Reader, 4096)
	default:
		return nil, logical.Errorf(logical.ErrInvalidRequest, "unknown key type %q", t)
	}
	if err != nil {
		return nil, fmt.Errorf("generating %s key: %w", t, err)
	}
	if t != typeHMAC {
		if v.HMACKey, err = randomBytes(32); err != nil {
			return nil, err
		}
	}
	if priv != nil {
		if v.Key, err = x509.MarshalPKCS8PrivateKey(priv); err != nil {
			return nil, fmt.Errorf("encoding %s key: %w", t, err)
		}
	}
	return v, v.prepare(t, derived)
}

// publicKeyText is the public key as Vault shows it when a key is read:
// base64 of the raw key for ed25519, PEM (PKIX) for the others.
func publicKeyText(pub crypto.PublicKey) (string, error) {
	if k, ok := pub.(ed25519.PublicKey); ok {
		return base64.StdEncoding.EncodeToString(k), nil
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encoding public key: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// keyName is the curve or size name Vault shows next to a public key.
func keyName(t string) string {
	switch t {
	case typeECDSAP256:
		return "P-256"
	case typeECDSAP384:
		return "P-384"
	case typeECDSAP521:
		return "P-521"
	}
	return t
}

// newPolicy creates the first version of a key.
func newPolicy(name, typ string, derived bool, hmacSize int, now time.Time) (*keyPolicy, error) {
	if !knownType(typ) {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "unknown key type %q", typ)
	}
	if derived && !symmetric(typ) {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "key derivation is supported only for %s, %s and %s keys", typeAES, typeAES128, typeChaCha)
	}
	if typ == typeHMAC {
		if hmacSize == 0 {
			hmacSize = defaultHMACKeySize
		}
		if hmacSize < minHMACKeySize || hmacSize > maxHMACKeySize {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "key_size must be between %d and %d bytes", minHMACKeySize, maxHMACKeySize)
		}
	} else if hmacSize != 0 {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "key_size applies only to hmac keys")
	}
	v, err := newVersion(typ, derived, hmacSize, now)
	if err != nil {
		return nil, err
	}
	return &keyPolicy{
		Name: name, Type: typ, Derived: derived,
		MinDecryptionVersion: 1, LatestVersion: 1, HMACKeySize: hmacSize,
		Versions: map[string]*keyVersion{"1": v},
	}, nil
}
