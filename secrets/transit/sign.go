package transit

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"math/big"
	"strconv"
	"strings"

	"github.com/arca-secrets/arca/logical"
)

// signParams are the request-wide options of sign and verify.
type signParams struct {
	hash      crypto.Hash
	prehashed bool
	rsaAlgo   string // pss or pkcs1v15
	salt      int    // rsa.PSSOptions.SaltLength
	jws       bool   // ECDSA signatures as r||s in unpadded base64url
	version   int
}

func readSignParams(req *logical.Request, algo string) (signParams, error) {
	var s signParams
	var err error
	if s.hash, err = hashFor(algo); err != nil {
		return s, err
	}
	if s.prehashed, _, err = logical.BoolParam(req.Data, "prehashed"); err != nil {
		return s, err
	}
	if s.rsaAlgo, err = logical.StringParam(req.Data, "signature_algorithm"); err != nil {
		return s, err
	}
	switch s.rsaAlgo {
	case "":
		s.rsaAlgo = "pss"
	case "pss", "pkcs1v15":
	default:
		return s, logical.Errorf(logical.ErrInvalidRequest, "signature_algorithm must be pss or pkcs1v15")
	}
	salt, err := logical.StringParam(req.Data, "salt_length")
	if err != nil {
		return s, err
	}
	switch salt {
	case "", "auto":
		s.salt = rsa.PSSSaltLengthAuto
	case "hash":
		s.salt = rsa.PSSSaltLengthEqualsHash
	default:
		if s.salt, err = strconv.Atoi(salt); err != nil || s.salt < 0 {
			return s, logical.Errorf(logical.ErrInvalidRequest, "salt_length must be auto, hash or a non-negative integer")
		}
	}
	m, err := logical.StringParam(req.Data, "marshaling_algorithm")
	if err != nil {
		return s, err
	}
	switch m {
	case "", "asn1":
	case "jws":
		s.jws = true
	default:
		return s, logical.Errorf(logical.ErrInvalidRequest, "marshaling_algorithm must be asn1 or jws")
	}
	s.version, _, err = logical.IntParam(req.Data, "key_version")
	return s, err
}

// digest is what ECDSA and RSA sign: the input's hash, or the input itself
// when the caller hashed it already.
func (s signParams) digest(input []byte) ([]byte, error) {
	if s.prehashed {
		if len(input) != s.hash.Size() {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "prehashed input must be %d bytes for this hash algorithm", s.hash.Size())
		}
		return input, nil
	}
	h := s.hash.New()
	h.Write(input)
	return h.Sum(nil), nil
}

// signingKey answers the path sign/:name[/:hash_algorithm] (verify alike).
func (e *engine) signingKey(ctx context.Context, req *logical.Request, rest string) (*keyPolicy, signParams, error) {
	name, algo := pathAlgorithm(rest, req.Data, "hash_algorithm")
	p, err := e.keys.mustGet(ctx, req.Storage, name)
	if err != nil {
		return nil, signParams{}, err
	}
	s, err := readSignParams(req, algo)
	return p, s, err
}

func (e *engine) sign(ctx context.Context, req *logical.Request, rest string) (*logical.Response, error) {
	p, s, err := e.signingKey(ctx, req, rest)
	if err != nil {
		return nil, err
	}
	if !asymmetric(p.Type) {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "key type %s does not support signing", p.Type)
	}
	if p, err = e.useKey(ctx, req, p); err != nil {
		return nil, err
	}
	return runBatch(req.Data, func(it map[string]any) (map[string]any, error) {
		input, err := requiredB64(it, "input")
		if err != nil {
			return nil, err
		}
		n, v, err := p.encryptionVersion(s.version)
		if err != nil {
			return nil, err
		}
		sig, err := s.sign(v.signer, input)
		if err != nil {
			return nil, err
		}
		return map[string]any{"signature": sig.encode(n, s.jws), "key_version": n}, nil
	})
}

type signature []byte

func (sig signature) encode(n int, jws bool) string {
	if jws {
		return versionPrefix + strconv.Itoa(n) + ":" + base64.RawURLEncoding.EncodeToString(sig)
	}
	return versioned(n, sig)
}

func (s signParams) sign(signer crypto.Signer, input []byte) (signature, error) {
	switch k := signer.(type) {
	case ed25519.PrivateKey:
		if s.prehashed {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "ed25519 signs the input itself: prehashed is not supported")
		}
		return ed25519.Sign(k, input), nil
	case *ecdsa.PrivateKey:
		d, err := s.digest(input)
		if err != nil {
			return nil, err
		}
		if !s.jws {
			return ecdsa.SignASN1(rand.Reader, k, d)
		}
		r, ss, err := ecdsa.Sign(rand.Reader, k, d)
		if err != nil {
			return nil, err
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		ss.FillBytes(out[size:])
		return out, nil
	case *rsa.PrivateKey:
		d, err := s.digest(input)
		if err != nil {
			return nil, err
		}
		var sig []byte
		if s.rsaAlgo == "pkcs1v15" {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, s.hash, d)
		} else {
			sig, err = rsa.SignPSS(rand.Reader, k, s.hash, d, &rsa.PSSOptions{SaltLength: s.salt})
		}
		if err != nil {
			// A salt_length too long for the key, mostly: the caller's to fix.
			// crypto/rsa's messages name no key material.
			return nil, logical.Errorf(logical.ErrInvalidRequest, "signing failed: %v", err)
		}
		return sig, nil
	}
	return nil, logical.Errorf(logical.ErrInvalidRequest, "this key does not support signing")
}

// verify answers verify/:name[/:hash_algorithm] for signatures and HMACs.
// A signature that does not match is {valid: false}, not an error; one
// that cannot be parsed, or names a version the key does not accept, is.
func (e *engine) verify(ctx context.Context, req *logical.Request, rest string) (*logical.Response, error) {
	p, s, err := e.signingKey(ctx, req, rest)
	if err != nil {
		return nil, err
	}
	return runBatch(req.Data, func(it map[string]any) (map[string]any, error) {
		input, err := requiredB64(it, "input")
		if err != nil {
			return nil, err
		}
		if mac, _ := logical.StringParam(it, "hmac"); mac != "" {
			valid, err := p.verifyHMAC(s.hash, input, mac)
			return map[string]any{"valid": valid}, err
		}
		str, err := logical.StringParam(it, "signature")
		if err != nil || str == "" {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "missing signature (or hmac)")
		}
		if !asymmetric(p.Type) {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "key type %s does not support signing", p.Type)
		}
		n, sig, err := s.parseSignature(str)
		if err != nil {
			return nil, err
		}
		v, err := p.version(n)
		if err != nil {
			return nil, err
		}
		valid, err := s.check(v.signer.Public(), input, sig)
		return map[string]any{"valid": valid}, err
	})
}

func (s signParams) parseSignature(str string) (int, []byte, error) {
	if !s.jws {
		return parseVersioned(str)
	}
	n, b64, err := splitVersioned(str)
	if err != nil {
		return 0, nil, err
	}
	sig, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return 0, nil, logical.Errorf(logical.ErrInvalidRequest, "invalid signature: not unpadded base64url")
	}
	return n, sig, nil
}

func (s signParams) check(pub crypto.PublicKey, input, sig []byte) (bool, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return ed25519.Verify(k, input, sig), nil
	case *ecdsa.PublicKey:
		d, err := s.digest(input)
		if err != nil {
			return false, err
		}
		if !s.jws {
			return ecdsa.VerifyASN1(k, d, sig), nil
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return false, nil
		}
		r, ss := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(k, d, r, ss), nil
	case *rsa.PublicKey:
		d, err := s.digest(input)
		if err != nil {
			return false, err
		}
		if s.rsaAlgo == "pkcs1v15" {
			return rsa.VerifyPKCS1v15(k, s.hash, d, sig) == nil, nil
		}
		return rsa.VerifyPSS(k, s.hash, d, sig, &rsa.PSSOptions{SaltLength: s.salt}) == nil, nil
	}
	return false, logical.Errorf(logical.ErrInvalidRequest, "this key does not support verification")
}

// pathAlgorithm splits ":name[/:algorithm]"; without the path segment the
// algorithm comes from the body's field key.
func pathAlgorithm(rest string, d map[string]any, key string) (name, algo string) {
	name, algo, _ = strings.Cut(rest, "/")
	if algo == "" {
		algo, _ = d[key].(string)
		if algo == "" {
			algo, _ = d["algorithm"].(string)
		}
	}
	return name, algo
}
