package transit

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strconv"
	"time"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

// Key types, as Vault names them.
const (
	typeAES       = "aes256-gcm96"
	typeChaCha    = "chacha20-poly1305"
	typeEd25519   = "ed25519"
	typeECDSAP256 = "ecdsa-p256"
	typeECDSAP384 = "ecdsa-p384"
	typeRSA2048   = "rsa-2048"
	typeRSA4096   = "rsa-4096"
	typeHMAC      = "hmac"
)

func knownType(t string) bool {
	switch t {
	case typeAES, typeChaCha, typeEd25519, typeECDSAP256, typeECDSAP384, typeRSA2048, typeRSA4096, typeHMAC:
		return true
	}
	return false
}

func symmetric(t string) bool  { return t == typeAES || t == typeChaCha }
func asymmetric(t string) bool { return !symmetric(t) && t != typeHMAC }

// keyVersion is one version of a key. Key is the symmetric or HMAC key, or
// the PKCS#8 private key; HMACKey serves the hmac endpoint for every type.
type keyVersion struct {
	Key          []byte    `json:"key"`
	HMACKey      []byte    `json:"hmac_key"`
	PublicKeyPEM string    `json:"public_key,omitempty"`
	CreationTime time.Time `json:"creation_time"`
}

// keyPolicy is a named key. Values are never changed after they are
// published in the engine's cache: changes make a copy.
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

func (p *keyPolicy) version(n int) (*keyVersion, error) {
	if n < max(p.MinDecryptionVersion, 1) {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "key version %d is below the key's min_decryption_version (%d)", n, p.MinDecryptionVersion)
	}
	v := p.Versions[strconv.Itoa(n)]
	if v == nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "key version %d does not exist", n)
	}
	return v, nil
}

// encryptionVersion is the version new operations use (key_version if
// given, which must be allowed).
func (p *keyPolicy) encryptionVersion(requested int) (int, *keyVersion, error) {
	n := p.LatestVersion
	if requested > 0 {
		if requested > p.LatestVersion || requested < max(p.MinEncryptionVersion, 1) {
			return 0, nil, logical.Errorf(logical.ErrInvalidRequest, "key_version %d is not allowed (latest %d, min_encryption_version %d)", requested, p.LatestVersion, p.MinEncryptionVersion)
		}
		n = requested
	}
	v, err := p.version(n)
	return n, v, err
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	_, err := rand.Read(b)
	return b, err
}

// newVersion generates key material of the policy's type.
func newVersion(t string, hmacSize int) (*keyVersion, error) {
	v := &keyVersion{CreationTime: time.Now().UTC()}
	var err error
	if v.HMACKey, err = randomBytes(32); err != nil {
		return nil, err
	}
	var priv any
	switch t {
	case typeAES, typeChaCha:
		v.Key, err = randomBytes(32)
		return v, err
	case typeHMAC:
		v.Key, err = randomBytes(hmacSize)
		return v, err
	case typeEd25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case typeECDSAP256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case typeECDSAP384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case typeRSA2048:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case typeRSA4096:
		priv, err = rsa.GenerateKey(rand.Reader, 4096)
	default:
		return nil, logical.Errorf(logical.ErrInvalidRequest, "unknown key type %q", t)
	}
	if err != nil {
		return nil, err
	}
	if v.Key, err = x509.MarshalPKCS8PrivateKey(priv); err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(publicOf(priv))
	if err != nil {
		return nil, err
	}
	v.PublicKeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	return v, nil
}

func publicOf(priv any) any {
	switch k := priv.(type) {
	case ed25519.PrivateKey:
		return k.Public()
	case *ecdsa.PrivateKey:
		return &k.PublicKey
	case *rsa.PrivateKey:
		return &k.PublicKey
	}
	return nil
}

// load returns the key named name (nil when it does not exist).
func (e *engine) load(ctx context.Context, st storage.Backend, name string) (*keyPolicy, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.loadLocked(ctx, st, name)
}

func (e *engine) loadLocked(ctx context.Context, st storage.Backend, name string) (*keyPolicy, error) {
	if p, ok := e.cache[name]; ok {
		return p, nil
	}
	raw, err := st.Get(ctx, "policy/"+name)
	if err != nil || raw == nil {
		return nil, err
	}
	var p keyPolicy
	if err := json.Unmarshal(raw.Value, &p); err != nil {
		return nil, fmt.Errorf("decoding key %s: %w", name, err)
	}
	e.cache[name] = &p
	return &p, nil
}

// publish writes p to storage, then makes it the cached version: a new
// version is never used before it is durable.
func (e *engine) publish(ctx context.Context, st storage.Backend, p *keyPolicy) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := st.Put(ctx, &storage.Entry{Key: "policy/" + p.Name, Value: raw}); err != nil {
		return err
	}
	e.cache[p.Name] = p
	return nil
}

// mustKey loads a key or answers 400 when it does not exist.
func (e *engine) mustKey(ctx context.Context, st storage.Backend, name string) (*keyPolicy, error) {
	if !validName(name) {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "invalid key name")
	}
	p, err := e.load(ctx, st, name)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "encryption key not found: %s", name)
	}
	return p, nil
}

// createLocked makes a new key; e.mu is held.
func (e *engine) createLocked(ctx context.Context, st storage.Backend, name, typ string, derived, exportable, backup bool, hmacSize int) (*keyPolicy, error) {
	if !knownType(typ) {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "unknown key type %q", typ)
	}
	if derived && !symmetric(typ) {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "key derivation is supported only for %s and %s", typeAES, typeChaCha)
	}
	if hmacSize == 0 {
		hmacSize = 32
	}
	if hmacSize < 16 || hmacSize > 512 {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "key_size must be between 16 and 512 bytes")
	}
	v, err := newVersion(typ, hmacSize)
	if err != nil {
		return nil, err
	}
	p := &keyPolicy{Name: name, Type: typ, Derived: derived, Exportable: exportable, AllowPlaintextBackup: backup,
		MinDecryptionVersion: 1, MinAvailableVersion: 0, LatestVersion: 1, HMACKeySize: hmacSize,
		Versions: map[string]*keyVersion{"1": v}}
	return p, e.publish(ctx, st, p)
}
