package transit

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"hash"
	"strings"

	"github.com/arca-secrets/arca/logical"
)

// hashFor maps Vault's hash_algorithm names.
func hashFor(name string) (crypto.Hash, func() hash.Hash, error) {
	switch name {
	case "", "sha2-256":
		return crypto.SHA256, sha256.New, nil
	case "sha2-224":
		return crypto.SHA224, sha256.New224, nil
	case "sha2-384":
		return crypto.SHA384, sha512.New384, nil
	case "sha2-512":
		return crypto.SHA512, sha512.New, nil
	}
	return 0, nil, logical.Errorf(logical.ErrInvalidRequest, "unsupported hash algorithm %q", name)
}

// algorithm reads hash_algorithm from the path suffix or the body.
func algorithm(rest string, d map[string]any, key string) (name, algo string, err error) {
	name, algo, _ = strings.Cut(rest, "/")
	if algo == "" {
		if algo, err = logical.StringParam(d, key); err != nil {
			return "", "", err
		}
	}
	return name, algo, nil
}

func digest(input []byte, prehashed bool, newHash func() hash.Hash) []byte {
	if prehashed {
		return input
	}
	h := newHash()
	h.Write(input)
	return h.Sum(nil)
}

func (e *engine) sign(ctx context.Context, req *logical.Request, rest string) (*logical.Response, error) {
	name, algo, err := algorithm(rest, req.Data, "hash_algorithm")
	if err != nil {
		return nil, err
	}
	p, err := e.mustKey(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if !asymmetric(p.Type) {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "key type %s does not support signing", p.Type)
	}
	ch, newHash, err := hashFor(algo)
	if err != nil {
		return nil, err
	}
	prehashed, _, err := logical.BoolParam(req.Data, "prehashed")
	if err != nil {
		return nil, err
	}
	sigAlgo, err := logical.StringParam(req.Data, "signature_algorithm")
	if err != nil {
		return nil, err
	}
	version, _, err := logical.IntParam(req.Data, "key_version")
	if err != nil {
		return nil, err
	}
	return runBatch(req.Data, func(it map[string]any) (map[string]any, error) {
		input, err := b64Param(it, "input", true)
		if err != nil {
			return nil, err
		}
		n, v, err := p.encryptionVersion(version)
		if err != nil {
			return nil, err
		}
		priv, err := x509.ParsePKCS8PrivateKey(v.Key)
		if err != nil {
			return nil, err
		}
		var sig []byte
		switch k := priv.(type) {
		case ed25519.PrivateKey:
			if prehashed {
				return nil, logical.Errorf(logical.ErrInvalidRequest, "ed25519 signs the input itself; prehashed is not supported")
			}
			sig = ed25519.Sign(k, input)
		case *ecdsa.PrivateKey:
			sig, err = ecdsa.SignASN1(rand.Reader, k, digest(input, prehashed, newHash))
		case *rsa.PrivateKey:
			d := digest(input, prehashed, newHash)
			switch sigAlgo {
			case "", "pss":
				sig, err = rsa.SignPSS(rand.Reader, k, ch, d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
			case "pkcs1v15":
				sig, err = rsa.SignPKCS1v15(rand.Reader, k, ch, d)
			default:
				return nil, logical.Errorf(logical.ErrInvalidRequest, "signature_algorithm must be pss or pkcs1v15")
			}
		}
		if err != nil {
			return nil, err
		}
		return map[string]any{"signature": versioned(n, sig), "key_version": n}, nil
	})
}

func (e *engine) verify(ctx context.Context, req *logical.Request, rest string) (*logical.Response, error) {
	name, algo, err := algorithm(rest, req.Data, "hash_algorithm")
	if err != nil {
		return nil, err
	}
	p, err := e.mustKey(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	prehashed, _, err := logical.BoolParam(req.Data, "prehashed")
	if err != nil {
		return nil, err
	}
	sigAlgo, err := logical.StringParam(req.Data, "signature_algorithm")
	if err != nil {
		return nil, err
	}
	return runBatch(req.Data, func(it map[string]any) (map[string]any, error) {
		input, err := b64Param(it, "input", true)
		if err != nil {
			return nil, err
		}
		if m, _ := logical.StringParam(it, "hmac"); m != "" {
			return p.verifyHMAC(input, m, algo)
		}
		s, err := logical.StringParam(it, "signature")
		if err != nil || s == "" {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "missing signature (or hmac)")
		}
		if !asymmetric(p.Type) {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "key type %s does not support signing", p.Type)
		}
		ch, newHash, err := hashFor(algo)
		if err != nil {
			return nil, err
		}
		n, sig, err := parseVersioned(s)
		if err != nil {
			return nil, err
		}
		v, err := p.version(n)
		if err != nil {
			return nil, err
		}
		priv, err := x509.ParsePKCS8PrivateKey(v.Key)
		if err != nil {
			return nil, err
		}
		valid := false
		switch k := priv.(type) {
		case ed25519.PrivateKey:
			valid = ed25519.Verify(k.Public().(ed25519.PublicKey), input, sig)
		case *ecdsa.PrivateKey:
			valid = ecdsa.VerifyASN1(&k.PublicKey, digest(input, prehashed, newHash), sig)
		case *rsa.PrivateKey:
			d := digest(input, prehashed, newHash)
			switch sigAlgo {
			case "", "pss":
				valid = rsa.VerifyPSS(&k.PublicKey, ch, d, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
			case "pkcs1v15":
				valid = rsa.VerifyPKCS1v15(&k.PublicKey, ch, d, sig) == nil
			default:
				return nil, logical.Errorf(logical.ErrInvalidRequest, "signature_algorithm must be pss or pkcs1v15")
			}
		}
		return map[string]any{"valid": valid}, nil
	})
}

// hmacKey is the key hmac uses: the key itself for hmac keys, the
// version's HMAC key for the others.
func (p *keyPolicy) hmacKey(v *keyVersion) []byte {
	if p.Type == typeHMAC {
		return v.Key
	}
	return v.HMACKey
}

func (e *engine) hmac(ctx context.Context, req *logical.Request, rest string) (*logical.Response, error) {
	name, algo, err := algorithm(rest, req.Data, "algorithm")
	if err != nil {
		return nil, err
	}
	p, err := e.mustKey(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	_, newHash, err := hashFor(algo)
	if err != nil {
		return nil, err
	}
	version, _, err := logical.IntParam(req.Data, "key_version")
	if err != nil {
		return nil, err
	}
	return runBatch(req.Data, func(it map[string]any) (map[string]any, error) {
		input, err := b64Param(it, "input", true)
		if err != nil {
			return nil, err
		}
		n, v, err := p.encryptionVersion(version)
		if err != nil {
			return nil, err
		}
		m := hmac.New(newHash, p.hmacKey(v))
		m.Write(input)
		return map[string]any{"hmac": versioned(n, m.Sum(nil))}, nil
	})
}

func (p *keyPolicy) verifyHMAC(input []byte, mac, algo string) (map[string]any, error) {
	_, newHash, err := hashFor(algo)
	if err != nil {
		return nil, err
	}
	n, want, err := parseVersioned(mac)
	if err != nil {
		return nil, err
	}
	v, err := p.version(n)
	if err != nil {
		return nil, err
	}
	m := hmac.New(newHash, p.hmacKey(v))
	m.Write(input)
	return map[string]any{"valid": hmac.Equal(m.Sum(nil), want)}, nil
}
