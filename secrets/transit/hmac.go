package transit

import (
	"context"
	"crypto"
	"crypto/hmac"
	_ "crypto/sha256" // registers SHA-224 and SHA-256 with crypto.Hash
	_ "crypto/sha3"   // registers SHA3-*
	_ "crypto/sha512" // registers SHA-384 and SHA-512

	"github.com/arca-secrets/arca/logical"
)

// hashFor maps Vault's hash algorithm names; the empty name is sha2-256.
func hashFor(name string) (crypto.Hash, error) {
	switch name {
	case "", "sha2-256":
		return crypto.SHA256, nil
	case "sha2-224":
		return crypto.SHA224, nil
	case "sha2-384":
		return crypto.SHA384, nil
	case "sha2-512":
		return crypto.SHA512, nil
	case "sha3-224":
		return crypto.SHA3_224, nil
	case "sha3-256":
		return crypto.SHA3_256, nil
	case "sha3-384":
		return crypto.SHA3_384, nil
	case "sha3-512":
		return crypto.SHA3_512, nil
	}
	return 0, logical.Errorf(logical.ErrInvalidRequest, "unsupported hash algorithm %q", name)
}

// hmacKey is the key the hmac endpoint uses: the key itself for hmac keys,
// the version's separate HMAC key for the others, so an HMAC never reuses
// an encryption or signing key.
func (p *keyPolicy) hmacKey(v *keyVersion) []byte {
	if p.Type == typeHMAC {
		return v.Key
	}
	return v.HMACKey
}

func (p *keyPolicy) mac(h crypto.Hash, v *keyVersion, input []byte) []byte {
	m := hmac.New(h.New, p.hmacKey(v))
	m.Write(input)
	return m.Sum(nil)
}

// hmac answers hmac/:name[/:algorithm].
func (e *engine) hmac(ctx context.Context, req *logical.Request, rest string) (*logical.Response, error) {
	name, algo := pathAlgorithm(rest, req.Data, "algorithm")
	p, err := e.keys.mustGet(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	h, err := hashFor(algo)
	if err != nil {
		return nil, err
	}
	version, _, err := logical.IntParam(req.Data, "key_version")
	if err != nil {
		return nil, err
	}
	if p, err = e.useKey(ctx, req, p); err != nil {
		return nil, err
	}
	return runBatch(req.Data, func(it map[string]any) (map[string]any, error) {
		input, err := requiredB64(it, "input")
		if err != nil {
			return nil, err
		}
		n, v, err := p.encryptionVersion(version)
		if err != nil {
			return nil, err
		}
		return map[string]any{"hmac": versioned(n, p.mac(h, v, input)), "key_version": n}, nil
	})
}

// verifyHMAC compares in constant time.
func (p *keyPolicy) verifyHMAC(h crypto.Hash, input []byte, mac string) (bool, error) {
	n, want, err := parseVersioned(mac)
	if err != nil {
		return false, err
	}
	v, err := p.version(n)
	if err != nil {
		return false, err
	}
	return hmac.Equal(p.mac(h, v, input), want), nil
}
