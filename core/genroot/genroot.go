// Package genroot keeps the one root token generation a server may have in
// progress: its nonce, the one-time pad (OTP) the new token is encoded
// with, and the key shares given so far, all key material in locked memory.
// It judges no share: its caller checks them (core, through the seal) and
// makes the token. The token travels as Vault sends it: the token XOR the
// OTP, in unpadded standard base64 (otp.go).
package genroot

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"

	"github.com/arca-secrets/arca/secmem"
)

// Errors of a generation, matched with errors.Is.
var (
	// ErrInProgress: a generation was started already; cancel it first.
	ErrInProgress = errors.New("a root token generation is already in progress")
	// ErrNotStarted: no generation is in progress.
	ErrNotStarted = errors.New("no root token generation is in progress")
	// ErrNonce: the nonce does not match the generation in progress.
	ErrNonce = errors.New("the nonce given does not match the root token generation in progress")
	// ErrInvalidOTP: an OTP that is not OTPLength base62 characters.
	ErrInvalidOTP = fmt.Errorf("otp must be %d base62 characters (arca operator generate-root -generate-otp makes one)", OTPLength)
)

// Status describes a generation.
type Status struct {
	Started   bool
	Nonce     string
	Progress  int
	Required  int // set by the caller, who knows the quorum
	OTPLength int
	// OTP is set only in the answer to the start that made it (when the
	// caller brought none); it is never shown again.
	OTP string
	// Complete and EncodedToken are set by the share that finishes.
	Complete     bool
	EncodedToken string
}

// Tracker holds at most one generation. Its methods are safe for
// concurrent use.
type Tracker struct {
	memory secmem.Mode
	mu     sync.Mutex
	cur    *attempt
}

type attempt struct {
	nonce string
	otp   *secmem.Buffer
	given []*secmem.Buffer
}

func (a *attempt) resetProgress() {
	for _, b := range a.given {
		b.Destroy()
	}
	a.given = nil
}

// NewTracker returns a Tracker that allocates key material as memory says.
func NewTracker(memory secmem.Mode) *Tracker {
	return &Tracker{memory: memory}
}

// Start begins a generation encoded with otp, or with a new OTP, returned
// once in the status, when otp is empty.
func (t *Tracker) Start(otp string) (Status, error) {
	generated := otp == ""
	if generated {
		var err error
		if otp, err = NewOTP(); err != nil {
			return Status{}, err
		}
	} else if !validOTP(otp) {
		return Status{}, ErrInvalidOTP
	}
	nonce, err := randomNonce()
	if err != nil {
		return Status{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur != nil {
		return Status{}, ErrInProgress
	}
	buf, err := t.locked([]byte(otp))
	if err != nil {
		return Status{}, err
	}
	t.cur = &attempt{nonce: nonce, otp: buf}
	st := t.statusLocked()
	if generated {
		st.OTP = otp
	}
	return st, nil
}

// Status reports the generation in progress, if any.
func (t *Tracker) Status() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.statusLocked()
}

// Cancel ends the generation in progress, wiping its OTP and shares, and
// reports whether there was one.
func (t *Tracker) Cancel() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.cur
	if a == nil {
		return false
	}
	a.resetProgress()
	a.otp.Destroy()
	t.cur = nil
	return true
}

// Add counts share for the generation with nonce; a share given already is
// not counted twice. When threshold shares are in, finish gets them
// (views into locked memory, valid only during the call) and returns the
// new token: the generation ends and the status carries the token encoded
// with the OTP. An error from finish resets the progress, and the
// generation goes on.
func (t *Tracker) Add(nonce string, share []byte, threshold int, finish func(shares [][]byte) (string, error)) (Status, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.cur
	if a == nil {
		return Status{}, ErrNotStarted
	}
	if subtle.ConstantTimeCompare([]byte(nonce), []byte(a.nonce)) != 1 {
		return Status{}, ErrNonce
	}
	for _, b := range a.given {
		if subtle.ConstantTimeCompare(b.Bytes(), share) == 1 {
			return t.statusLocked(), nil
		}
	}
	buf, err := t.locked(share)
	if err != nil {
		return Status{}, err
	}
	a.given = append(a.given, buf)
	if len(a.given) < threshold {
		return t.statusLocked(), nil
	}
	views := make([][]byte, len(a.given))
	for i, b := range a.given {
		views[i] = b.Bytes()
	}
	id, err := finish(views)
	a.resetProgress()
	if err != nil {
		return t.statusLocked(), err
	}
	done := Status{Nonce: a.nonce, Progress: threshold, OTPLength: OTPLength, Complete: true, EncodedToken: encode(id, a.otp.Bytes())}
	a.otp.Destroy()
	t.cur = nil
	return done, nil
}

func (t *Tracker) statusLocked() Status {
	st := Status{OTPLength: OTPLength}
	if a := t.cur; a != nil {
		st.Started, st.Nonce, st.Progress = true, a.nonce, len(a.given)
	}
	return st
}

func (t *Tracker) locked(b []byte) (*secmem.Buffer, error) {
	buf, err := secmem.New(len(b), t.memory)
	if err != nil {
		return nil, fmt.Errorf("locking key material: %w", err)
	}
	copy(buf.Bytes(), b)
	return buf, nil
}
