// Package transit is encryption as a service, compatible with Vault's
// transit engine: named keys that applications use but never see, to
// encrypt, decrypt, sign, verify and compute HMACs.
//
// Key types: aes256-gcm96 (the default), aes128-gcm96 and
// chacha20-poly1305 encrypt; ed25519, ecdsa-p256/p384/p521 and
// rsa-2048/3072/4096 sign; hmac keys only compute HMACs (every other key
// has a separate HMAC key per version for the hmac endpoint).
//
// Key versions. A key has numbered versions starting at 1; rotate adds
// one. New ciphertexts, signatures and HMACs use the latest version (or
// key_version, which must be at least min_encryption_version), and carry
// their version: "vault:v<N>:<base64>", byte for byte Vault's format, so
// ciphertexts and clients interoperate. Decryption and verification accept
// any version from min_decryption_version up; trim deletes versions below
// min_available_version for good. Rewrap re-encrypts a ciphertext under
// the latest version without showing the plaintext.
//
// Nonces. aes256-gcm96 and chacha20-poly1305 draw a fresh 96-bit nonce
// from crypto/rand for every encryption and store it in front of the
// sealed data: base64(nonce | ciphertext | tag). With random 96-bit nonces
// one key version must not encrypt more than about 2^32 messages; rotate
// (or set auto_rotate_period) well before that. Derived keys
// (derived=true) are HKDF-SHA256 of the version's key with the caller's
// context as info, so each context has its own key and a ciphertext made
// under one context does not open under another.
//
// Only the standard library's and golang.org/x/crypto's primitives are
// used. Storage: policy/<name> holds a key with all its versions as JSON,
// inside the barrier like all engine storage.
package transit

import (
	"context"
	"strings"
	"time"

	"github.com/arca-secrets/arca/logical"
)

// Factory creates a transit engine for a mount.
func Factory(_ context.Context, conf logical.MountConfig) (logical.Engine, error) {
	now := conf.Now
	if now == nil {
		now = time.Now
	}
	return &engine{keys: newKeyCache(), now: now}, nil
}

type engine struct {
	keys *keyCache
	now  func() time.Time // the mount's clock: version creation times, auto-rotation
}

var _ logical.Engine = (*engine)(nil)

var errBadName = logical.Errorf(logical.ErrInvalidRequest, "invalid key name: use letters, digits, '-', '_' and '.' (at most 128)")

type handler func(ctx context.Context, req *logical.Request, rest string) (*logical.Response, error)

func (e *engine) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	path := strings.Trim(req.Path, "/")
	op := req.Operation
	if req.Data == nil {
		req.Data = map[string]any{}
	}
	first, rest, _ := strings.Cut(path, "/")
	if first == "keys" {
		if rest == "" && op == logical.ListOperation {
			return e.listKeys(ctx, req)
		}
		if rest != "" {
			return e.handleKeys(ctx, req, rest)
		}
	}
	h, writable, readable := e.route(first)
	switch {
	case h == nil:
		return nil, logical.Errorf(logical.ErrUnsupportedPath, "no handler for %s", path)
	case writable && (op == logical.UpdateOperation || op == logical.CreateOperation),
		readable && op == logical.ReadOperation:
		return h(ctx, req, rest)
	}
	return nil, logical.Errorf(logical.ErrUnsupportedOperation, "%s is not supported on %s", op, path)
}

// route maps a path's first segment to its handler and the operations it
// takes (write: update/create; read).
func (e *engine) route(first string) (h handler, write, read bool) {
	switch first {
	case "encrypt":
		return e.encrypt, true, false
	case "decrypt":
		return e.decrypt, true, false
	case "rewrap":
		return e.rewrap, true, false
	case "datakey":
		return e.datakey, true, false
	case "sign":
		return e.sign, true, false
	case "verify":
		return e.verify, true, false
	case "hmac":
		return e.hmac, true, false
	case "hash":
		return hashSum, true, false
	case "restore":
		return e.restore, true, false
	case "random":
		return random, true, true
	case "export":
		return e.export, false, true
	case "backup":
		return e.backup, false, true
	}
	return nil, false, false
}

func (e *engine) handleKeys(ctx context.Context, req *logical.Request, rest string) (*logical.Response, error) {
	name, sub, _ := strings.Cut(rest, "/")
	if !validName(name) {
		return nil, errBadName
	}
	op := req.Operation
	write := op == logical.UpdateOperation || op == logical.CreateOperation
	switch {
	case sub == "" && write:
		return e.createKey(ctx, req, name)
	case sub == "" && op == logical.ReadOperation:
		return e.readKey(ctx, req, name)
	case sub == "" && op == logical.DeleteOperation:
		return e.deleteKey(ctx, req, name)
	case sub == "config" && write:
		return e.configKey(ctx, req, name)
	case sub == "rotate" && write:
		return e.rotateKey(ctx, req, name)
	case sub == "trim" && write:
		return e.trimKey(ctx, req, name)
	case sub == "" || sub == "config" || sub == "rotate" || sub == "trim":
		return nil, logical.Errorf(logical.ErrUnsupportedOperation, "%s is not supported on keys/%s", op, rest)
	}
	return nil, logical.Errorf(logical.ErrUnsupportedPath, "no handler for keys/%s", rest)
}

// validName accepts the names Vault users give keys and nothing that could
// escape the key's storage path.
func validName(n string) bool {
	if n == "" || len(n) > 128 || n == "." || n == ".." {
		return false
	}
	return logical.NameChars(n)
}
