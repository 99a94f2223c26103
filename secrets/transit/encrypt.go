package transit

import (
	"context"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/arca-secrets/arca/logical"
)

const versionPrefix = "vault:v"

var (
	errNotVersioned = logical.Errorf(logical.ErrInvalidRequest, "invalid ciphertext: it must look like vault:v<N>:<base64>")
	errBadVersion   = logical.Errorf(logical.ErrInvalidRequest, "invalid ciphertext: bad key version")
	errNotBase64    = logical.Errorf(logical.ErrInvalidRequest, "invalid ciphertext: not base64")
	errOpen         = logical.Errorf(logical.ErrInvalidRequest, "cipher: message authentication failed (wrong key, context or associated data, or a damaged ciphertext)")
)

// parseVersioned splits "vault:v<N>:<base64>" into N and the decoded
// bytes.
func parseVersioned(s string) (int, []byte, error) {
	n, b64, err := splitVersioned(s)
	if err != nil {
		return 0, nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return 0, nil, errNotBase64
	}
	return n, raw, nil
}

func splitVersioned(s string) (int, string, error) {
	rest, ok := strings.CutPrefix(s, versionPrefix)
	if !ok {
		return 0, "", errNotVersioned
	}
	num, b64, ok := strings.Cut(rest, ":")
	if !ok {
		return 0, "", errNotVersioned
	}
	// Digits only: Atoi would also take "+1".
	if num == "" || len(num) > 9 || strings.TrimLeft(num, "0123456789") != "" {
		return 0, "", errBadVersion
	}
	n, _ := strconv.Atoi(num)
	if n < 1 {
		return 0, "", errBadVersion
	}
	return n, b64, nil
}

func versioned(n int, raw []byte) string {
	return versionPrefix + strconv.Itoa(n) + ":" + base64.StdEncoding.EncodeToString(raw)
}

// aead returns version v's cipher, derived for context when the key is
// derived.
func (p *keyPolicy) aead(v *keyVersion, context []byte) (cipher.AEAD, error) {
	if !symmetric(p.Type) {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "key type %s does not support encryption", p.Type)
	}
	if !p.Derived {
		if len(context) > 0 {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "context was given, but key %s is not derived", p.Name)
		}
		return v.aead, nil
	}
	if len(context) == 0 {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "missing context: key %s is derived and needs one", p.Name)
	}
	key, err := hkdf.Key(sha256.New, v.Key, nil, string(context), symmetricKeySize(p.Type))
	if err != nil {
		return nil, fmt.Errorf("deriving key: %w", err)
	}
	defer clear(key)
	return newAEAD(p.Type, key)
}

// seal encrypts plaintext under the chosen version (0: the latest).
func (p *keyPolicy) seal(plaintext, context, ad []byte, version int) (string, int, error) {
	n, v, err := p.encryptionVersion(version)
	if err != nil {
		return "", 0, err
	}
	a, err := p.aead(v, context)
	if err != nil {
		return "", 0, err
	}
	nonce, err := randomBytes(a.NonceSize())
	if err != nil {
		return "", 0, err
	}
	out := make([]byte, 0, len(nonce)+len(plaintext)+a.Overhead())
	out = append(out, nonce...)
	return versioned(n, a.Seal(out, nonce, plaintext, ad)), n, nil
}

// open decrypts a ciphertext made by seal.
func (p *keyPolicy) open(ciphertext string, context, ad []byte) ([]byte, int, error) {
	n, raw, err := parseVersioned(ciphertext)
	if err != nil {
		return nil, 0, err
	}
	v, err := p.version(n)
	if err != nil {
		return nil, 0, err
	}
	a, err := p.aead(v, context)
	if err != nil {
		return nil, 0, err
	}
	if len(raw) < a.NonceSize()+a.Overhead() {
		return nil, 0, logical.Errorf(logical.ErrInvalidRequest, "invalid ciphertext: too short")
	}
	pt, err := a.Open(nil, raw[:a.NonceSize()], raw[a.NonceSize():], ad)
	if err != nil {
		return nil, 0, errOpen
	}
	return pt, n, nil
}

// b64Param reads an optional base64 field.
func b64Param(item map[string]any, key string) ([]byte, error) {
	s, err := logical.StringParam(item, key)
	if err != nil || s == "" {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "%s must be base64-encoded", key)
	}
	return b, nil
}

// requiredB64 reads a base64 field that must be present (it may encode
// nothing).
func requiredB64(item map[string]any, key string) ([]byte, error) {
	if _, ok := item[key]; !ok {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "missing %s", key)
	}
	b, err := b64Param(item, key)
	if b == nil && err == nil {
		b = []byte{}
	}
	return b, err
}

// cryptParams are the per-item inputs of encrypt, decrypt and rewrap.
type cryptParams struct {
	context, ad []byte
	version     int
}

func readCryptParams(it map[string]any, defaultVersion int) (cryptParams, error) {
	var c cryptParams
	var err error
	if c.context, err = b64Param(it, "context"); err != nil {
		return c, err
	}
	if c.ad, err = b64Param(it, "associated_data"); err != nil {
		return c, err
	}
	v, ok, err := logical.IntParam(it, "key_version")
	if err != nil {
		return c, err
	}
	c.version = defaultVersion
	if ok {
		c.version = v
	}
	return c, nil
}

func (e *engine) encrypt(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	if !validName(name) {
		return nil, errBadName
	}
	list, _, err := batchItems(req.Data)
	if err != nil {
		return nil, err
	}
	p, err := e.keys.get(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if p == nil {
		if p, err = e.createOnEncrypt(ctx, req, name, list); err != nil {
			return nil, err
		}
	}
	if p, err = e.useKey(ctx, req, p); err != nil {
		return nil, err
	}
	version, _, err := logical.IntParam(req.Data, "key_version")
	if err != nil {
		return nil, err
	}
	return runBatch(req.Data, func(it map[string]any) (map[string]any, error) {
		pt, err := requiredB64(it, "plaintext")
		if err != nil {
			return nil, err
		}
		c, err := readCryptParams(it, version)
		if err != nil {
			return nil, err
		}
		ct, n, err := p.seal(pt, c.context, c.ad, c.version)
		if err != nil {
			return nil, err
		}
		return map[string]any{"ciphertext": ct, "key_version": n}, nil
	})
}

// createOnEncrypt creates a missing key on its first encrypt, as Vault
// does: of the request's type (default aes256-gcm96), derived when the
// first item carries a context.
func (e *engine) createOnEncrypt(ctx context.Context, req *logical.Request, name string, list []map[string]any) (*keyPolicy, error) {
	typ, err := logical.StringParam(req.Data, "type")
	if err != nil {
		return nil, err
	}
	if typ == "" {
		typ = typeAES
	}
	if !symmetric(typ) {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "key type %s does not support encryption", typ)
	}
	if err := refuseConvergent(req.Data); err != nil {
		return nil, err
	}
	derived := false
	if len(list) > 0 {
		if c, err := b64Param(list[0], "context"); err == nil && len(c) > 0 {
			derived = true
		}
	}
	return e.keys.update(ctx, req.Storage, name, func(cur *keyPolicy) (*keyPolicy, error) {
		if cur != nil {
			return nil, nil // created meanwhile by another request
		}
		return newPolicy(name, typ, derived, 0, e.now())
	})
}

func (e *engine) decrypt(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	p, err := e.keys.mustGet(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	return runBatch(req.Data, func(it map[string]any) (map[string]any, error) {
		ct, err := ciphertextParam(it)
		if err != nil {
			return nil, err
		}
		c, err := readCryptParams(it, 0)
		if err != nil {
			return nil, err
		}
		pt, _, err := p.open(ct, c.context, c.ad)
		if err != nil {
			return nil, err
		}
		return map[string]any{"plaintext": base64.StdEncoding.EncodeToString(pt)}, nil
	})
}

func ciphertextParam(it map[string]any) (string, error) {
	ct, err := logical.StringParam(it, "ciphertext")
	if err != nil {
		return "", err
	}
	if ct == "" {
		return "", logical.Errorf(logical.ErrInvalidRequest, "missing ciphertext")
	}
	return ct, nil
}

// rewrap decrypts and re-encrypts under the latest version (or
// key_version) without the plaintext leaving the engine.
func (e *engine) rewrap(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	p, err := e.keys.mustGet(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if p, err = e.useKey(ctx, req, p); err != nil {
		return nil, err
	}
	version, _, err := logical.IntParam(req.Data, "key_version")
	if err != nil {
		return nil, err
	}
	return runBatch(req.Data, func(it map[string]any) (map[string]any, error) {
		ct, err := ciphertextParam(it)
		if err != nil {
			return nil, err
		}
		c, err := readCryptParams(it, version)
		if err != nil {
			return nil, err
		}
		pt, _, err := p.open(ct, c.context, c.ad)
		if err != nil {
			return nil, err
		}
		defer clear(pt)
		out, n, err := p.seal(pt, c.context, c.ad, c.version)
		if err != nil {
			return nil, err
		}
		return map[string]any{"ciphertext": out, "key_version": n}, nil
	})
}
