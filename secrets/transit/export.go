package transit

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"

	"github.com/arca-secrets/arca/logical"
)

// export answers export/:key_type/:name[/:version]. Key material leaves
// the engine only for keys created (or configured) exportable; public keys
// of asymmetric keys are always exportable, as in Vault.
func (e *engine) export(ctx context.Context, req *logical.Request, rest string) (*logical.Response, error) {
	parts := strings.Split(rest, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, logical.Errorf(logical.ErrUnsupportedPath, "use export/:key_type/:name[/:version]")
	}
	kind, name := parts[0], parts[1]
	p, err := e.keys.mustGet(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "encryption-key":
		if !symmetric(p.Type) {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "key %s is not an encryption key", name)
		}
	case "signing-key", "public-key":
		if !asymmetric(p.Type) {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "key %s is not a signing key", name)
		}
	case "hmac-key":
	default:
		return nil, logical.Errorf(logical.ErrInvalidRequest, "export type must be encryption-key, signing-key, hmac-key or public-key")
	}
	if kind != "public-key" && !p.Exportable {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "key %s is not exportable", name)
	}
	want := ""
	if len(parts) == 3 {
		want = parts[2]
		if want == "latest" {
			want = strconv.Itoa(p.LatestVersion)
		}
		if p.Versions[want] == nil {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "key %s has no version %q", name, parts[2])
		}
	}
	keys := map[string]any{}
	for n, v := range p.Versions {
		if want != "" && n != want {
			continue
		}
		s, err := exportText(p, v, kind)
		if err != nil {
			return nil, err
		}
		keys[n] = s
	}
	return &logical.Response{Data: map[string]any{"name": p.Name, "type": p.Type, "keys": keys}}, nil
}

// exportText encodes one version as Vault does: base64 for raw keys,
// base64 of the 64-byte private key for ed25519, SEC 1 PEM for ECDSA,
// PKCS #1 PEM for RSA.
func exportText(p *keyPolicy, v *keyVersion, kind string) (string, error) {
	switch kind {
	case "hmac-key":
		return base64.StdEncoding.EncodeToString(p.hmacKey(v)), nil
	case "encryption-key":
		return base64.StdEncoding.EncodeToString(v.Key), nil
	case "public-key":
		return publicKeyText(v.signer.Public())
	}
	switch k := v.signer.(type) {
	case ed25519.PrivateKey:
		return base64.StdEncoding.EncodeToString(k), nil
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return "", fmt.Errorf("encoding key: %w", err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})), nil
	case *rsa.PrivateKey:
		return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})), nil
	}
	return "", logical.Errorf(logical.ErrInvalidRequest, "key %s is not a signing key", p.Name)
}

// backup answers backup/:name: the whole key, all versions, as base64
// JSON, for keys that are both exportable and allow_plaintext_backup.
func (e *engine) backup(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	p, err := e.keys.mustGet(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if !p.AllowPlaintextBackup || !p.Exportable {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "plaintext backup of key %s is not allowed: it needs exportable and allow_plaintext_backup", name)
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding backup: %w", err)
	}
	return &logical.Response{Data: map[string]any{"backup": base64.StdEncoding.EncodeToString(raw)}}, nil
}

var errBadBackup = logical.Errorf(logical.ErrInvalidRequest, "backup is not a valid transit key backup")

// restore answers restore[/:name] {backup, force}: the key comes back
// under its own name or the one in the path, and replaces an existing key
// only with force.
func (e *engine) restore(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	b, err := requiredB64(req.Data, "backup")
	if err != nil {
		return nil, err
	}
	force, _, err := logical.BoolParam(req.Data, "force")
	if err != nil {
		return nil, err
	}
	var p keyPolicy
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, errBadBackup
	}
	if err := p.prepare(); err != nil {
		return nil, errBadBackup
	}
	if name != "" {
		p.Name = name
	}
	if !validName(p.Name) {
		return nil, errBadName
	}
	_, err = e.keys.update(ctx, req.Storage, p.Name, func(cur *keyPolicy) (*keyPolicy, error) {
		if cur != nil && !force {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "key %s exists: set force to replace it", p.Name)
		}
		return &p, nil
	})
	return nil, err
}
