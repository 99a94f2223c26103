package transit

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"hash"
	"strconv"
	"strings"

	"github.com/arca-secrets/arca/logical"
)

const maxRandomBytes = 1 << 20

// random answers random[/source][/bytes] with bytes from crypto/rand
// (the only source; "platform" and "all" are accepted as names for it).
func random(req *logical.Request, rest string) (*logical.Response, error) {
	n := 32
	for _, seg := range strings.Split(rest, "/") {
		switch {
		case seg == "" || seg == "platform" || seg == "all":
		case seg == "seal":
			return nil, logical.Errorf(logical.ErrInvalidRequest, "source seal is not available; use platform")
		default:
			v, err := strconv.Atoi(seg)
			if err != nil {
				return nil, logical.Errorf(logical.ErrInvalidRequest, "unknown random source or byte count %q", seg)
			}
			n = v
		}
	}
	if v, ok, err := logical.IntParam(req.Data, "bytes"); err != nil {
		return nil, err
	} else if ok {
		n = v
	}
	if n < 1 || n > maxRandomBytes {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "bytes must be between 1 and %d", maxRandomBytes)
	}
	b, err := randomBytes(n)
	if err != nil {
		return nil, err
	}
	out, err := encode(b, req.Data)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]any{"random_bytes": out}}, nil
}

func encode(b []byte, d map[string]any) (string, error) {
	f, err := logical.StringParam(d, "format")
	if err != nil {
		return "", err
	}
	switch f {
	case "", "base64":
		return base64.StdEncoding.EncodeToString(b), nil
	case "hex":
		return hex.EncodeToString(b), nil
	}
	return "", logical.Errorf(logical.ErrInvalidRequest, "format must be base64 or hex")
}

// hashSum answers hash[/algorithm] {input, algorithm, format}.
func hashSum(req *logical.Request, rest string) (*logical.Response, error) {
	algo := rest
	if algo == "" {
		algo, _ = logical.StringParam(req.Data, "algorithm")
	}
	var h hash.Hash
	switch algo {
	case "", "sha2-256":
		h = sha256.New()
	case "sha2-224":
		h = sha256.New224()
	case "sha2-384":
		h = sha512.New384()
	case "sha2-512":
		h = sha512.New()
	default:
		return nil, logical.Errorf(logical.ErrInvalidRequest, "unsupported hash algorithm %q", algo)
	}
	input, err := b64Param(req.Data, "input", true)
	if err != nil {
		return nil, err
	}
	h.Write(input)
	f, _ := logical.StringParam(req.Data, "format")
	if f == "" {
		f = "hex"
	}
	out, err := encode(h.Sum(nil), map[string]any{"format": f})
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]any{"sum": out}}, nil
}

// export answers export/:type/:name[/:version] for exportable keys.
func (e *engine) export(ctx context.Context, req *logical.Request, rest string) (*logical.Response, error) {
	parts := strings.Split(rest, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, logical.Errorf(logical.ErrUnsupportedPath, "use export/:key_type/:name[/:version]")
	}
	kind, name := parts[0], parts[1]
	p, err := e.mustKey(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if !p.Exportable {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "key %s is not exportable", name)
	}
	switch kind {
	case "encryption-key":
		if !symmetric(p.Type) {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "key %s is not an encryption key", name)
		}
	case "signing-key":
		if !asymmetric(p.Type) {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "key %s is not a signing key", name)
		}
	case "hmac-key":
	default:
		return nil, logical.Errorf(logical.ErrInvalidRequest, "export type must be encryption-key, signing-key or hmac-key")
	}
	keys := map[string]any{}
	for n, v := range p.Versions {
		if len(parts) == 3 && parts[2] != n && !(parts[2] == "latest" && n == strconv.Itoa(p.LatestVersion)) {
			continue
		}
		switch kind {
		case "hmac-key":
			keys[n] = base64.StdEncoding.EncodeToString(p.hmacKey(v))
		case "encryption-key":
			keys[n] = base64.StdEncoding.EncodeToString(v.Key)
		case "signing-key":
			keys[n] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: v.Key}))
		}
	}
	if len(keys) == 0 {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "no such key version")
	}
	return &logical.Response{Data: map[string]any{"name": p.Name, "type": p.Type, "keys": keys}}, nil
}

// backup answers backup/:name for keys that allow plaintext backups.
func (e *engine) backup(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	p, err := e.mustKey(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if !p.AllowPlaintextBackup || !p.Exportable {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "plaintext backup is not allowed: the key needs exportable and allow_plaintext_backup")
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]any{"backup": base64.StdEncoding.EncodeToString(raw)}}, nil
}

// restore answers restore[/:name] {backup, force}.
func (e *engine) restore(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	b, err := b64Param(req.Data, "backup", true)
	if err != nil {
		return nil, err
	}
	var p keyPolicy
	if err := json.Unmarshal(b, &p); err != nil || !knownType(p.Type) || len(p.Versions) == 0 {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "backup is not a transit key backup")
	}
	if name != "" {
		p.Name = name
	}
	if !validName(p.Name) {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "invalid key name")
	}
	force, _, err := logical.BoolParam(req.Data, "force")
	if err != nil {
		return nil, err
	}
	for n, v := range p.Versions {
		if v == nil || len(v.Key) == 0 {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "backup version %s has no key", n)
		}
		if asymmetric(p.Type) {
			if _, err := x509.ParsePKCS8PrivateKey(v.Key); err != nil {
				return nil, logical.Errorf(logical.ErrInvalidRequest, "backup version %s holds a bad key", n)
			}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if existing, err := e.loadLocked(ctx, req.Storage, p.Name); err != nil {
		return nil, err
	} else if existing != nil && !force {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "key %s exists; set force to overwrite", p.Name)
	}
	return nil, e.publish(ctx, req.Storage, &p)
}
