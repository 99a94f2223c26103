// Package pkcs11 is a seal that protects the root key with a key held in
// an HSM (or a software token such as SoftHSM2) through PKCS#11. The key
// never leaves the token: it is made there non-extractable and sensitive,
// and the token itself encrypts and decrypts the root key, with AES-GCM
// (CKM_AES_GCM, the default) or RSA-OAEP (CKM_RSA_PKCS_OAEP). A server
// with this seal unseals by itself.
//
// The wrapped root key is [version | mechanism | nonce | ciphertext and
// tag] for AES-GCM, [version | mechanism | ciphertext] for RSA-OAEP; the
// version and mechanism are bound in as associated data (AES-GCM), so a
// blob read with the other mechanism or tampered with fails to unwrap.
//
// Each operation opens its own session and logs in; the token logs out
// when the last session closes. A PIN the token refuses gives ErrPIN,
// which callers must not retry (an HSM locks a PIN after a few tries); a
// token out of reach gives seal.ErrUnavailable.
package pkcs11

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	p11 "github.com/miekg/pkcs11"

	"github.com/arca-secrets/arca/seal"
)

const (
	formatVersion = 1
	headerLen     = 2
	nonceLen      = 12
	tagBits       = 128
	rsaBits       = 3072
	// aadPrefix is the associated data of every AES-GCM wrap, followed by
	// the header.
	aadPrefix = "arca seal pkcs11"
)

// mechanism bytes in the wrapped format.
const (
	wireAESGCM        = 1
	wireRSAOAEPSHA1   = 2
	wireRSAOAEPSHA256 = 3
)

// Seal is the PKCS#11 seal. It is safe for concurrent use; operations on
// the token are made one at a time.
type Seal struct {
	conf Config
	mod  *module

	mu     sync.Mutex // one operation on the token at a time
	closed bool
}

var _ seal.Seal = (*Seal)(nil)

// New checks conf and loads the PKCS#11 module. It does not touch the
// token: a token that is absent now is looked for again at each
// operation. Close releases the module.
func New(conf Config) (*Seal, error) {
	if err := conf.check(); err != nil {
		return nil, err
	}
	mod, err := openModule(conf.Lib)
	if err != nil {
		return nil, err
	}
	return &Seal{conf: conf, mod: mod}, nil
}

// Close releases the module; the seal cannot be used after.
func (s *Seal) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.mod.release()
	}
	return nil
}

// Type is "pkcs11".
func (*Seal) Type() string { return "pkcs11" }

// AutoUnseal is true: the token holds the key.
func (*Seal) AutoUnseal() bool { return true }

// String describes the seal without its PIN.
func (s *Seal) String() string { return s.conf.String() }

// Health logs in to the token and finds the key (a missing key is
// healthy when the seal may generate it).
func (s *Seal) Health(context.Context) error {
	return s.do(func(ss *session) error {
		err := s.findKeys(ss, func(p11.ObjectHandle, p11.ObjectHandle) error { return nil })
		if errors.Is(err, ErrKeyNotFound) && s.conf.GenerateKey {
			return nil
		}
		return err
	})
}

// do runs f in a new logged-in session.
func (s *Seal) do(f func(*session) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("%w: the pkcs11 seal is closed", seal.ErrUnavailable)
	}
	ss, err := s.openSession()
	if err != nil {
		return err
	}
	defer ss.close()
	return f(ss)
}

// findKeys finds the key (AES) or the key pair (RSA: public, private)
// and hands them to f.
func (s *Seal) findKeys(ss *session, f func(enc, dec p11.ObjectHandle) error) error {
	if s.conf.Mechanism == AESGCM {
		k, err := s.findKey(ss, p11.CKO_SECRET_KEY)
		if err != nil {
			return err
		}
		return f(k, k)
	}
	priv, err := s.findKey(ss, p11.CKO_PRIVATE_KEY)
	if err != nil {
		return err
	}
	pub, err := s.findKey(ss, p11.CKO_PUBLIC_KEY)
	if err != nil {
		return err
	}
	return f(pub, priv)
}

// Wrap encrypts rootKey with the token's key, first making the key when
// it is missing and GenerateKey is set. split is ignored.
func (s *Seal) Wrap(_ context.Context, rootKey []byte, _ seal.Split) ([]byte, [][]byte, error) {
	var out []byte
	err := s.do(func(ss *session) error {
		err := s.findKeys(ss, func(enc, _ p11.ObjectHandle) error {
			var err error
			out, err = s.encrypt(ss, enc, rootKey)
			return err
		})
		if !errors.Is(err, ErrKeyNotFound) || !s.conf.GenerateKey {
			return err
		}
		enc, err := s.generate(ss)
		if err != nil {
			return err
		}
		out, err = s.encrypt(ss, enc, rootKey)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return out, nil, nil
}

func (s *Seal) header() []byte {
	switch {
	case s.conf.Mechanism == RSAOAEP && s.conf.OAEPHash == SHA1:
		return []byte{formatVersion, wireRSAOAEPSHA1}
	case s.conf.Mechanism == RSAOAEP:
		return []byte{formatVersion, wireRSAOAEPSHA256}
	}
	return []byte{formatVersion, wireAESGCM}
}

func (s *Seal) encrypt(ss *session, key p11.ObjectHandle, plain []byte) ([]byte, error) {
	hdr := s.header()
	if s.conf.Mechanism == RSAOAEP {
		mech := p11.NewMechanism(p11.CKM_RSA_PKCS_OAEP, oaepParams(hdr[1]))
		if err := ss.ctx.EncryptInit(ss.h, []*p11.Mechanism{mech}, key); err != nil {
			return nil, fmt.Errorf("encrypting with key %q: %w", s.conf.KeyLabel, classify(err))
		}
		ct, err := ss.ctx.Encrypt(ss.h, plain)
		if err != nil {
			return nil, fmt.Errorf("encrypting with key %q: %w", s.conf.KeyLabel, classify(err))
		}
		return append(hdr, ct...), nil
	}
	nonce := make([]byte, nonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	params := p11.NewGCMParams(nonce, aad(hdr), tagBits)
	defer params.Free()
	if err := ss.ctx.EncryptInit(ss.h, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_GCM, params)}, key); err != nil {
		return nil, fmt.Errorf("encrypting with key %q: %w", s.conf.KeyLabel, classify(err))
	}
	ct, err := ss.ctx.Encrypt(ss.h, plain)
	if err != nil {
		return nil, fmt.Errorf("encrypting with key %q: %w", s.conf.KeyLabel, classify(err))
	}
	// Some tokens choose the nonce themselves and write it back.
	if iv := params.IV(); len(iv) == nonceLen {
		nonce = iv
	}
	out := append(hdr, nonce...)
	return append(out, ct...), nil
}

func aad(hdr []byte) []byte { return append([]byte(aadPrefix), hdr...) }

func oaepParams(wire byte) *p11.OAEPParams {
	if wire == wireRSAOAEPSHA1 {
		return p11.NewOAEPParams(p11.CKM_SHA_1, p11.CKG_MGF1_SHA1, p11.CKZ_DATA_SPECIFIED, nil)
	}
	return p11.NewOAEPParams(p11.CKM_SHA256, p11.CKG_MGF1_SHA256, p11.CKZ_DATA_SPECIFIED, nil)
}

// Unwrap decrypts wrapped with the token's key. It never makes a key: a
// missing key gives ErrKeyNotFound and leaves the token as it was.
func (s *Seal) Unwrap(_ context.Context, wrapped []byte, _ [][]byte) ([]byte, error) {
	if len(wrapped) < headerLen || wrapped[0] != formatVersion {
		return nil, fmt.Errorf("%w: not a pkcs11 seal wrapping of a known version", seal.ErrUnwrap)
	}
	hdr, body := wrapped[:headerLen], wrapped[headerLen:]
	isRSA := hdr[1] == wireRSAOAEPSHA1 || hdr[1] == wireRSAOAEPSHA256
	if isRSA != (s.conf.Mechanism == RSAOAEP) || (!isRSA && hdr[1] != wireAESGCM) {
		return nil, fmt.Errorf("%w: the root key was wrapped with another mechanism than the configured %v", seal.ErrUnwrap, s.conf.Mechanism)
	}
	var mech *p11.Mechanism
	var params *p11.GCMParams
	switch s.conf.Mechanism {
	case RSAOAEP:
		mech = p11.NewMechanism(p11.CKM_RSA_PKCS_OAEP, oaepParams(hdr[1]))
	default:
		if len(body) < nonceLen+tagBits/8 {
			return nil, fmt.Errorf("%w: the wrapped root key is too short", seal.ErrUnwrap)
		}
		params = p11.NewGCMParams(body[:nonceLen], aad(hdr), tagBits)
		defer params.Free()
		mech = p11.NewMechanism(p11.CKM_AES_GCM, params)
		body = body[nonceLen:]
	}
	var plain []byte
	err := s.do(func(ss *session) error {
		return s.findKeys(ss, func(_, dec p11.ObjectHandle) error {
			if err := ss.ctx.DecryptInit(ss.h, []*p11.Mechanism{mech}, dec); err != nil {
				return decryptError(s.conf.KeyLabel, err)
			}
			var err error
			if plain, err = ss.ctx.Decrypt(ss.h, body); err != nil {
				return decryptError(s.conf.KeyLabel, err)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return plain, nil
}

// decryptError is ErrUnwrap unless the token went out of reach. Tokens
// report a failed authentication tag in different ways (SoftHSM2 says
// CKR_GENERAL_ERROR), so only the return values that name the device or
// the session count as out of reach here.
func decryptError(label string, err error) error {
	var rv p11.Error
	if errors.As(err, &rv) {
		switch rv {
		case p11.CKR_DEVICE_ERROR, p11.CKR_DEVICE_MEMORY, p11.CKR_DEVICE_REMOVED, p11.CKR_TOKEN_NOT_PRESENT,
			p11.CKR_SESSION_CLOSED, p11.CKR_SESSION_HANDLE_INVALID, p11.CKR_CRYPTOKI_NOT_INITIALIZED, p11.CKR_HOST_MEMORY:
			return fmt.Errorf("decrypting with key %q: %w: %w", label, seal.ErrUnavailable, rv)
		}
	}
	return fmt.Errorf("%w: key %q does not open it (%w)", seal.ErrUnwrap, label, err)
}

// generate makes the seal's key in the token: sensitive, never
// extractable, a token object usable only to encrypt and decrypt. It
// returns the handle that encrypts.
func (s *Seal) generate(ss *session) (p11.ObjectHandle, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return 0, err
	}
	private := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_DECRYPT, true),
		p11.NewAttribute(p11.CKA_LABEL, s.conf.KeyLabel),
		p11.NewAttribute(p11.CKA_ID, id),
	}
	if s.conf.Mechanism == RSAOAEP {
		public := []*p11.Attribute{
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_ENCRYPT, true),
			p11.NewAttribute(p11.CKA_MODULUS_BITS, rsaBits),
			p11.NewAttribute(p11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}),
			p11.NewAttribute(p11.CKA_LABEL, s.conf.KeyLabel),
			p11.NewAttribute(p11.CKA_ID, id),
		}
		private = append(private, p11.NewAttribute(p11.CKA_SIGN, false))
		pub, _, err := ss.ctx.GenerateKeyPair(ss.h, []*p11.Mechanism{p11.NewMechanism(p11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil)}, public, private)
		if err != nil {
			return 0, fmt.Errorf("generating RSA key pair %q in %s: %w", s.conf.KeyLabel, s.where(), classify(err))
		}
		return pub, nil
	}
	secret := append(private,
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
		p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_AES),
		p11.NewAttribute(p11.CKA_VALUE_LEN, 32),
		p11.NewAttribute(p11.CKA_ENCRYPT, true),
		p11.NewAttribute(p11.CKA_WRAP, false),
		p11.NewAttribute(p11.CKA_UNWRAP, false),
	)
	k, err := ss.ctx.GenerateKey(ss.h, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_KEY_GEN, nil)}, secret)
	if err != nil {
		return 0, fmt.Errorf("generating AES key %q in %s: %w", s.conf.KeyLabel, s.where(), classify(err))
	}
	return k, nil
}
