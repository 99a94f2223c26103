package pkcs11

import (
	"errors"
	"fmt"
	"strings"

	p11 "github.com/miekg/pkcs11"

	"github.com/arca-secrets/arca/seal"
)

// classify makes a PKCS#11 return value an error the caller can act on:
// the token out of reach matches seal.ErrUnavailable (retrying may help),
// a refused PIN matches ErrPIN (retrying will not).
func classify(err error) error {
	var rv p11.Error
	if !errors.As(err, &rv) {
		return err
	}
	switch rv {
	case p11.CKR_PIN_INCORRECT, p11.CKR_PIN_LOCKED, p11.CKR_PIN_EXPIRED, p11.CKR_PIN_INVALID, p11.CKR_PIN_LEN_RANGE, p11.CKR_USER_PIN_NOT_INITIALIZED:
		return fmt.Errorf("%w (%w)", ErrPIN, rv)
	case p11.CKR_DEVICE_ERROR, p11.CKR_DEVICE_MEMORY, p11.CKR_DEVICE_REMOVED, p11.CKR_TOKEN_NOT_PRESENT,
		p11.CKR_TOKEN_NOT_RECOGNIZED, p11.CKR_SESSION_CLOSED, p11.CKR_SESSION_HANDLE_INVALID, p11.CKR_SESSION_COUNT,
		p11.CKR_SLOT_ID_INVALID, p11.CKR_CRYPTOKI_NOT_INITIALIZED, p11.CKR_HOST_MEMORY, p11.CKR_GENERAL_ERROR,
		p11.CKR_FUNCTION_FAILED, p11.CKR_FUNCTION_CANCELED:
		return fmt.Errorf("%w: %w", seal.ErrUnavailable, rv)
	}
	return rv
}

// session is one logged-in session on the seal's token, for one
// operation. close ends it; closing a token's last session logs out.
type session struct {
	ctx *p11.Ctx
	h   p11.SessionHandle
}

// openSession finds the token, opens a read-write session and logs in.
func (s *Seal) openSession() (*session, error) {
	ctx := s.mod.ctx
	slot, err := s.findSlot()
	if err != nil {
		return nil, err
	}
	h, err := ctx.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		return nil, fmt.Errorf("opening a session on %s: %w", s.where(), classify(err))
	}
	ss := &session{ctx: ctx, h: h}
	if err := ctx.Login(h, p11.CKU_USER, s.conf.PIN); err != nil && !errors.Is(err, p11.Error(p11.CKR_USER_ALREADY_LOGGED_IN)) {
		ss.close()
		return nil, fmt.Errorf("logging in to %s: %w", s.where(), classify(err))
	}
	return ss, nil
}

func (ss *session) close() { _ = ss.ctx.CloseSession(ss.h) }

// where names the token as the configuration does, for messages.
func (s *Seal) where() string {
	if s.conf.Slot != nil {
		return fmt.Sprintf("the token in slot %d", *s.conf.Slot)
	}
	return fmt.Sprintf("the token labelled %q", s.conf.TokenLabel)
}

// findSlot returns the configured slot, or the one whose token has the
// configured label. Looked up at each operation: a token put back in
// another slot is found again. When the token is not there, the module
// is refreshed and asked once more.
func (s *Seal) findSlot() (uint, error) {
	id, err := s.lookSlot()
	if err != nil && errors.Is(err, seal.ErrUnavailable) && s.mod.refresh() {
		return s.lookSlot()
	}
	return id, err
}

func (s *Seal) lookSlot() (uint, error) {
	ctx := s.mod.ctx
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("listing the module's slots: %w", classify(err))
	}
	for _, id := range slots {
		if s.conf.Slot != nil {
			if id == *s.conf.Slot {
				return id, nil
			}
			continue
		}
		info, err := ctx.GetTokenInfo(id)
		if err != nil {
			continue
		}
		if strings.TrimRight(info.Label, " \x00") == s.conf.TokenLabel {
			return id, nil
		}
	}
	return 0, fmt.Errorf("%w: %s is not present in %q", seal.ErrUnavailable, s.where(), s.conf.Lib)
}

// findObjects returns the handles of the objects of class with the key
// label.
func (s *Seal) findObjects(ss *session, class uint) ([]p11.ObjectHandle, error) {
	tmpl := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, class),
		p11.NewAttribute(p11.CKA_LABEL, s.conf.KeyLabel),
	}
	if err := ss.ctx.FindObjectsInit(ss.h, tmpl); err != nil {
		return nil, fmt.Errorf("looking for key %q: %w", s.conf.KeyLabel, classify(err))
	}
	defer func() { _ = ss.ctx.FindObjectsFinal(ss.h) }()
	var all []p11.ObjectHandle
	for {
		hs, _, err := ss.ctx.FindObjects(ss.h, 16)
		if err != nil {
			return nil, fmt.Errorf("looking for key %q: %w", s.conf.KeyLabel, classify(err))
		}
		if len(hs) == 0 {
			return all, nil
		}
		all = append(all, hs...)
	}
}

// findKey returns the one object of class labelled with the key label.
// A private or secret key must be sensitive and not extractable.
func (s *Seal) findKey(ss *session, class uint) (p11.ObjectHandle, error) {
	hs, err := s.findObjects(ss, class)
	switch {
	case err != nil:
		return 0, err
	case len(hs) == 0:
		return 0, fmt.Errorf("%w: %s has no %s labelled %q", ErrKeyNotFound, s.where(), className(class), s.conf.KeyLabel)
	case len(hs) > 1:
		return 0, fmt.Errorf("%w: %s has %d objects of class %s labelled %q; labels must name one key", ErrKeyUnsafe, s.where(), len(hs), className(class), s.conf.KeyLabel)
	}
	if class == p11.CKO_PUBLIC_KEY {
		return hs[0], nil
	}
	attrs, err := ss.ctx.GetAttributeValue(ss.h, hs[0], []*p11.Attribute{
		p11.NewAttribute(p11.CKA_EXTRACTABLE, nil),
		p11.NewAttribute(p11.CKA_SENSITIVE, nil),
	})
	if err != nil {
		return 0, fmt.Errorf("reading the attributes of key %q: %w", s.conf.KeyLabel, classify(err))
	}
	extractable, sensitive := attrBool(attrs, p11.CKA_EXTRACTABLE), attrBool(attrs, p11.CKA_SENSITIVE)
	if extractable || !sensitive {
		return 0, fmt.Errorf("%w: key %q can leave the token (CKA_EXTRACTABLE %v, CKA_SENSITIVE %v); use a key made with CKA_EXTRACTABLE false and CKA_SENSITIVE true", ErrKeyUnsafe, s.conf.KeyLabel, extractable, sensitive)
	}
	return hs[0], nil
}

func attrBool(attrs []*p11.Attribute, typ uint) bool {
	for _, a := range attrs {
		if a.Type == typ {
			return len(a.Value) == 1 && a.Value[0] != 0
		}
	}
	return false
}

func className(class uint) string {
	switch class {
	case p11.CKO_SECRET_KEY:
		return "secret key"
	case p11.CKO_PRIVATE_KEY:
		return "private key"
	case p11.CKO_PUBLIC_KEY:
		return "public key"
	}
	return fmt.Sprintf("class %d", class)
}
