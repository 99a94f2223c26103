// Package transit is encryption as a service, compatible with Vault's
// transit engine: named keys that applications use but never see, to
// encrypt, decrypt, sign, verify and compute HMACs.
//
// Keys and versions. A key has numbered versions; rotate adds one, and new
// operations use the latest version (or min_encryption_version's floor)
// while decryption accepts any version from min_decryption_version up.
// Ciphertexts and signatures are "vault:v<N>:<base64>", so existing Vault
// ciphertexts and clients interoperate.
//
// Nonces. aes256-gcm96 and chacha20-poly1305 use a fresh 96-bit nonce from
// crypto/rand for every encryption, stored in front of the ciphertext
// (nonce | ciphertext | tag). With random 96-bit nonces a key version must
// not encrypt more than about 2^32 messages: rotate well before that.
// Derived keys (derived=true) are HKDF-SHA256 of the version's key with the
// caller's context as info, so each context gets its own key.
//
// Only the standard library's and golang.org/x/crypto's primitives are
// used. Storage: policy/<name> holds a key with all its versions (JSON,
// inside the barrier like all engine storage).
package transit

import (
	"context"
	"strings"
	"sync"

	"github.com/arca-secrets/arca/logical"
)

// Factory creates a transit engine for a mount.
func Factory(_ context.Context, _ logical.MountConfig) (logical.Engine, error) {
	return &engine{cache: map[string]*keyPolicy{}}, nil
}

type engine struct {
	// mu guards cache and serialises key changes (create, rotate, config,
	// delete); operations read an immutable *keyPolicy snapshot, so
	// encrypt and decrypt never wait on a rotation.
	mu    sync.Mutex
	cache map[string]*keyPolicy
}

var _ logical.Engine = (*engine)(nil)

func (e *engine) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	path := strings.Trim(req.Path, "/")
	op := req.Operation
	write := op == logical.UpdateOperation || op == logical.CreateOperation
	first, rest, _ := strings.Cut(path, "/")
	switch {
	case path == "keys" && op == logical.ListOperation:
		return e.listKeys(ctx, req)
	case first == "keys" && rest != "":
		return e.handleKeys(ctx, req, rest)
	case first == "encrypt" && write:
		return e.encrypt(ctx, req, rest)
	case first == "decrypt" && write:
		return e.decrypt(ctx, req, rest)
	case first == "rewrap" && write:
		return e.rewrap(ctx, req, rest)
	case first == "datakey" && write:
		return e.datakey(ctx, req, rest)
	case first == "sign" && write:
		return e.sign(ctx, req, rest)
	case first == "verify" && write:
		return e.verify(ctx, req, rest)
	case first == "hmac" && write:
		return e.hmac(ctx, req, rest)
	case (first == "random") && (write || op == logical.ReadOperation):
		return random(req, rest)
	case first == "hash" && write:
		return hashSum(req, rest)
	case first == "export" && op == logical.ReadOperation:
		return e.export(ctx, req, rest)
	case first == "backup" && op == logical.ReadOperation:
		return e.backup(ctx, req, rest)
	case first == "restore" && write:
		return e.restore(ctx, req, rest)
	}
	return nil, logical.Errorf(logical.ErrUnsupportedPath, "unsupported path or operation: %s %s", op, path)
}

func (e *engine) handleKeys(ctx context.Context, req *logical.Request, rest string) (*logical.Response, error) {
	name, sub, _ := strings.Cut(rest, "/")
	if !validName(name) {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "invalid key name")
	}
	op := req.Operation
	write := op == logical.UpdateOperation || op == logical.CreateOperation
	switch {
	case sub == "" && write:
		return nil, e.createKey(ctx, req, name)
	case sub == "" && op == logical.ReadOperation:
		return e.readKey(ctx, req, name)
	case sub == "" && op == logical.DeleteOperation:
		return nil, e.deleteKey(ctx, req, name)
	case sub == "config" && write:
		return e.configKey(ctx, req, name)
	case sub == "rotate" && write:
		return e.rotateKey(ctx, req, name)
	case sub == "trim" && write:
		return nil, e.trimKey(ctx, req, name)
	}
	return nil, logical.Errorf(logical.ErrUnsupportedPath, "unsupported path or operation: %s keys/%s", op, rest)
}

func validName(n string) bool {
	if n == "" || len(n) > 128 {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.", r)) {
			return false
		}
	}
	return n != "." && n != ".."
}
