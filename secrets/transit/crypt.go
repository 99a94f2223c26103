package transit

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"strconv"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"

	"github.com/arca-secrets/arca/logical"
)

// aead returns the cipher for a version, derived with context when the
// key is derived.
func (p *keyPolicy) aead(v *keyVersion, context []byte) (cipher.AEAD, error) {
	if !symmetric(p.Type) {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "key type %s does not support encryption", p.Type)
	}
	key := v.Key
	if p.Derived {
		if len(context) == 0 {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "missing 'context' for key derivation; the key was created with derived=true")
		}
		key = make([]byte, 32)
		if _, err := io.ReadFull(hkdf.New(sha256.New, v.Key, nil, context), key); err != nil {
			return nil, err
		}
	} else if len(context) > 0 {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "'context' given for a key without derivation")
	}
	if p.Type == typeChaCha {
		return chacha20poly1305.New(key)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// parseVersioned splits "vault:v<N>:<base64>".
func parseVersioned(s string) (int, []byte, error) {
	rest, ok := strings.CutPrefix(s, "vault:v")
	if !ok {
		return 0, nil, logical.Errorf(logical.ErrInvalidRequest, "invalid ciphertext: no vault:v prefix")
	}
	num, b64, ok := strings.Cut(rest, ":")
	if !ok {
		return 0, nil, logical.Errorf(logical.ErrInvalidRequest, "invalid ciphertext: no version")
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 {
		return 0, nil, logical.Errorf(logical.ErrInvalidRequest, "invalid ciphertext: bad version")
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return 0, nil, logical.Errorf(logical.ErrInvalidRequest, "invalid ciphertext: not base64")
	}
	return n, raw, nil
}

func versioned(n int, raw []byte) string {
	return "vault:v" + strconv.Itoa(n) + ":" + base64.StdEncoding.EncodeToString(raw)
}

func b64Param(item map[string]any, key string, required bool) ([]byte, error) {
	s, err := logical.StringParam(item, key)
	if err != nil {
		return nil, err
	}
	if s == "" {
		if required {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "missing %s", key)
		}
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "%s must be base64-encoded", key)
	}
	return b, nil
}

func (p *keyPolicy) encryptWith(plaintext, context []byte, version int) (string, int, error) {
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
	return versioned(n, a.Seal(nonce, nonce, plaintext, nil)), n, nil
}

func (p *keyPolicy) decryptWith(ciphertext string, context []byte) ([]byte, int, error) {
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
	pt, err := a.Open(nil, raw[:a.NonceSize()], raw[a.NonceSize():], nil)
	if err != nil {
		return nil, 0, logical.Errorf(logical.ErrInvalidRequest, "cipher: message authentication failed (wrong key, context, or tampered ciphertext)")
	}
	return pt, n, nil
}

// items returns batch_input, or the request itself as a single item.
func items(d map[string]any) ([]map[string]any, bool, error) {
	raw, ok := d["batch_input"]
	if !ok {
		return []map[string]any{d}, false, nil
	}
	list, ok := raw.([]any)
	if !ok || len(list) == 0 {
		return nil, true, logical.Errorf(logical.ErrInvalidRequest, "batch_input must be a non-empty list of objects")
	}
	out := make([]map[string]any, len(list))
	for i, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, true, logical.Errorf(logical.ErrInvalidRequest, "batch_input[%d] must be an object", i)
		}
		out[i] = m
	}
	return out, true, nil
}

// runBatch applies fn to each item; in a batch, an item's error is its
// result and the others go on.
func runBatch(d map[string]any, fn func(map[string]any) (map[string]any, error)) (*logical.Response, error) {
	list, batch, err := items(d)
	if err != nil {
		return nil, err
	}
	if !batch {
		out, err := fn(list[0])
		if err != nil {
			return nil, err
		}
		return &logical.Response{Data: out}, nil
	}
	results := make([]any, len(list))
	for i, it := range list {
		out, err := fn(it)
		if err != nil {
			out = map[string]any{"error": err.Error()}
		}
		if ref, ok := it["reference"]; ok {
			out["reference"] = ref
		}
		results[i] = out
	}
	return &logical.Response{Data: map[string]any{"batch_results": results}}, nil
}

func (e *engine) encrypt(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	if !validName(name) {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "invalid key name")
	}
	p, err := e.load(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if p == nil {
		// Like Vault, the first encrypt creates the key.
		typ, _ := logical.StringParam(req.Data, "type")
		if typ == "" {
			typ = typeAES
		}
		derived := false
		if list, _, err := items(req.Data); err == nil && len(list) > 0 {
			_, hasCtx := list[0]["context"]
			derived = hasCtx
		}
		e.mu.Lock()
		p, err = e.loadLocked(ctx, req.Storage, name)
		if err == nil && p == nil {
			p, err = e.createLocked(ctx, req.Storage, name, typ, derived, false, false, 0)
		}
		e.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	if p, err = e.autoRotate(ctx, req, p); err != nil {
		return nil, err
	}
	version, _, err := logical.IntParam(req.Data, "key_version")
	if err != nil {
		return nil, err
	}
	return runBatch(req.Data, func(it map[string]any) (map[string]any, error) {
		pt, err := b64Param(it, "plaintext", true)
		if err != nil {
			return nil, err
		}
		c, err := b64Param(it, "context", false)
		if err != nil {
			return nil, err
		}
		ct, n, err := p.encryptWith(pt, c, version)
		if err != nil {
			return nil, err
		}
		return map[string]any{"ciphertext": ct, "key_version": n}, nil
	})
}

func (e *engine) decrypt(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	p, err := e.mustKey(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	return runBatch(req.Data, func(it map[string]any) (map[string]any, error) {
		ct, err := logical.StringParam(it, "ciphertext")
		if err != nil || ct == "" {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "missing ciphertext")
		}
		c, err := b64Param(it, "context", false)
		if err != nil {
			return nil, err
		}
		pt, _, err := p.decryptWith(ct, c)
		if err != nil {
			return nil, err
		}
		return map[string]any{"plaintext": base64.StdEncoding.EncodeToString(pt)}, nil
	})
}

func (e *engine) rewrap(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	p, err := e.mustKey(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	version, _, err := logical.IntParam(req.Data, "key_version")
	if err != nil {
		return nil, err
	}
	return runBatch(req.Data, func(it map[string]any) (map[string]any, error) {
		ct, err := logical.StringParam(it, "ciphertext")
		if err != nil || ct == "" {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "missing ciphertext")
		}
		c, err := b64Param(it, "context", false)
		if err != nil {
			return nil, err
		}
		pt, _, err := p.decryptWith(ct, c)
		if err != nil {
			return nil, err
		}
		defer clear(pt)
		out, n, err := p.encryptWith(pt, c, version)
		if err != nil {
			return nil, err
		}
		return map[string]any{"ciphertext": out, "key_version": n}, nil
	})
}

// datakey generates a random key for envelope encryption and returns it
// encrypted (and, for plaintext, also in the clear).
func (e *engine) datakey(ctx context.Context, req *logical.Request, rest string) (*logical.Response, error) {
	kind, name, _ := strings.Cut(rest, "/")
	if kind != "plaintext" && kind != "wrapped" {
		return nil, logical.Errorf(logical.ErrUnsupportedPath, "datakey type must be plaintext or wrapped")
	}
	p, err := e.mustKey(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	bits, ok, err := logical.IntParam(req.Data, "bits")
	if err != nil {
		return nil, err
	}
	if !ok {
		bits = 256
	}
	if bits != 128 && bits != 256 && bits != 512 {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "bits must be 128, 256 or 512")
	}
	c, err := b64Param(req.Data, "context", false)
	if err != nil {
		return nil, err
	}
	key, err := randomBytes(bits / 8)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	ct, n, err := p.encryptWith(key, c, 0)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"ciphertext": ct, "key_version": n}
	if kind == "plaintext" {
		out["plaintext"] = base64.StdEncoding.EncodeToString(key)
	}
	return &logical.Response{Data: out}, nil
}
