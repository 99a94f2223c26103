package luks

import (
	"context"
	"errors"
	"fmt"
)

// What the arca volume commands do to a header, apart from flags and
// output: each step takes the device and a way to reach the server, so
// that tests can run it against real cryptsetup with a runner that
// records, and a server that is a function.

// KeySource is the server side of the volume commands.
type KeySource interface {
	// Passphrase returns a new passphrase of the volume and its wrapped
	// form.
	Passphrase(ctx context.Context, volume string) (key []byte, wrapped string, err error)
	// Unwrap returns the passphrase inside tok's wrapped form.
	Unwrap(ctx context.Context, tok Token) ([]byte, error)
}

// Wipe overwrites a key that is no longer needed.
func Wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// UnlockError is the error of an unlock in which no arca token worked: it
// says what went wrong with each.
type UnlockError struct{ Errs []error }

func (e *UnlockError) Error() string {
	if len(e.Errs) == 1 {
		return e.Errs[0].Error()
	}
	msg := "no arca token opened the volume:"
	for _, err := range e.Errs {
		msg += "\n  " + err.Error()
	}
	return msg
}

func (e *UnlockError) Unwrap() []error { return e.Errs }

// Unlock tries the header's arca tokens in order: each one's
// passphrase is unwrapped by the server and given to cryptsetup, to open
// the volume as mapper, or with test set only to check that it opens the
// token's keyslot. It returns the token that worked and, when keep is
// set, its passphrase (the caller wipes it).
func Unlock(ctx context.Context, dev *Device, src KeySource, test bool, mapper string, keep bool) (FoundToken, []byte, error) {
	meta, err := dev.Metadata(ctx)
	if err != nil {
		return FoundToken{}, nil, err
	}
	tokens := meta.ArcaTokens()
	if len(tokens) == 0 {
		return FoundToken{}, nil, fmt.Errorf("%s: %w", dev.Path, ErrNoArcaToken)
	}
	var errs []error
	for _, ft := range tokens {
		if ft.Err != nil {
			errs = append(errs, fmt.Errorf("token %d: %w", ft.ID, ft.Err))
			continue
		}
		key, err := src.Unwrap(ctx, ft.Token)
		if err != nil {
			errs = append(errs, fmt.Errorf("token %d: volume %s: %w", ft.ID, ft.Token.Volume, err))
			continue
		}
		if test {
			err = dev.TestKey(ctx, ft.Token.Slot(), key)
		} else {
			err = dev.Open(ctx, ft.Token.Slot(), key, mapper)
		}
		if err != nil {
			Wipe(key)
			errs = append(errs, fmt.Errorf("token %d: keyslot %d: %w", ft.ID, ft.Token.Slot(), err))
			continue
		}
		if !keep {
			Wipe(key)
			key = nil
		}
		return ft, key, nil
	}
	return FoundToken{}, nil, &UnlockError{Errs: errs}
}

// ErrBound: bind or format on a header that has an arca token already.
var ErrBound = errors.New("the volume is bound to Arca already (use arca volume rotate for a new passphrase)")

// Bind adds a new passphrase of volume to a free keyslot, authorised
// by an existing key (bytes, or the path of a key file), and records it in
// an arca token.
func Bind(ctx context.Context, dev *Device, src KeySource, tok Token, existing []byte, existingFile string) (Token, error) {
	meta, err := dev.Metadata(ctx)
	if err != nil {
		return Token{}, err
	}
	if ts := meta.ArcaTokens(); len(ts) > 0 {
		return Token{}, fmt.Errorf("%s: token %d: %w", dev.Path, ts[0].ID, ErrBound)
	}
	slot, err := meta.FreeSlot()
	if err != nil {
		return Token{}, err
	}
	key, wrapped, err := src.Passphrase(ctx, tok.Volume)
	if err != nil {
		return Token{}, err
	}
	defer Wipe(key)
	if err := dev.AddKey(ctx, slot, existing, existingFile, key); err != nil {
		return Token{}, fmt.Errorf("adding the Arca passphrase to keyslot %d: %w", slot, err)
	}
	tok.Type, tok.Keyslots, tok.Wrapped = TokenType, []string{fmt.Sprint(slot)}, wrapped
	if err := dev.ImportToken(ctx, tok); err != nil {
		return Token{}, fmt.Errorf("keyslot %d holds the Arca passphrase, but storing its token failed: %w", slot, err)
	}
	return tok, nil
}

// FormatVolume makes dev a new LUKS2 volume whose only passphrase is a new
// one of volume, in keyslot 0, with its arca token.
func FormatVolume(ctx context.Context, dev *Device, src KeySource, tok Token) (Token, error) {
	key, wrapped, err := src.Passphrase(ctx, tok.Volume)
	if err != nil {
		return Token{}, err
	}
	defer Wipe(key)
	if err := dev.Format(ctx, key); err != nil {
		return Token{}, err
	}
	tok.Type, tok.Keyslots, tok.Wrapped = TokenType, []string{"0"}, wrapped
	if err := dev.ImportToken(ctx, tok); err != nil {
		return Token{}, fmt.Errorf("formatted, but storing the arca token failed (the volume cannot be opened without it): %w", err)
	}
	return tok, nil
}

// Rotate replaces the Arca passphrase: the current one (found as
// unlock -test finds it) authorises a new one in a free keyslot, the new
// token is stored, and only then are the old token and keyslot removed.
// At every step one token opens one slot.
func Rotate(ctx context.Context, dev *Device, src KeySource) (old FoundToken, next Token, err error) {
	old, oldKey, err := Unlock(ctx, dev, src, true, "", true)
	if err != nil {
		return old, next, err
	}
	defer Wipe(oldKey)
	meta, err := dev.Metadata(ctx)
	if err != nil {
		return old, next, err
	}
	slot, err := meta.FreeSlot()
	if err != nil {
		return old, next, err
	}
	key, wrapped, err := src.Passphrase(ctx, old.Token.Volume)
	if err != nil {
		return old, next, err
	}
	defer Wipe(key)
	if err := dev.AddKey(ctx, slot, oldKey, "", key); err != nil {
		return old, next, fmt.Errorf("adding the new passphrase to keyslot %d: %w", slot, err)
	}
	next = old.Token
	next.Keyslots, next.Wrapped = []string{fmt.Sprint(slot)}, wrapped
	if err := dev.ImportToken(ctx, next); err != nil {
		return old, next, fmt.Errorf("keyslot %d holds the new passphrase, but storing its token failed (the old token still works): %w", slot, err)
	}
	if err := dev.RemoveToken(ctx, old.ID); err != nil {
		return old, next, fmt.Errorf("the new token works, but removing the old token %d failed: %w", old.ID, err)
	}
	if err := dev.KillSlot(ctx, old.Token.Slot(), key); err != nil {
		return old, next, fmt.Errorf("the new token works, but wiping the old keyslot %d failed: %w", old.Token.Slot(), err)
	}
	return old, next, nil
}
