package cli

import (
	"context"
	"errors"
	"fmt"
)

// What the arca volume commands do to a header, apart from flags and
// output: each step takes the device and a way to reach the server, so
// that tests can run it against real cryptsetup with a runner that
// records, and a server that is a function.

// keySource is the server side of the volume commands.
type keySource interface {
	// Passphrase returns a new passphrase of the volume and its wrapped
	// form.
	Passphrase(ctx context.Context, volume string) (key []byte, wrapped string, err error)
	// Unwrap returns the passphrase inside tok's wrapped form.
	Unwrap(ctx context.Context, tok arcaToken) ([]byte, error)
}

// wipe overwrites a key that is no longer needed.
func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// errUnlock is the error of an unlock in which no arca token worked: it
// says what went wrong with each.
type errUnlock struct{ Errs []error }

func (e *errUnlock) Error() string {
	if len(e.Errs) == 1 {
		return e.Errs[0].Error()
	}
	msg := "no arca token opened the volume:"
	for _, err := range e.Errs {
		msg += "\n  " + err.Error()
	}
	return msg
}

func (e *errUnlock) Unwrap() []error { return e.Errs }

// unlockVolume tries the header's arca tokens in order: each one's
// passphrase is unwrapped by the server and given to cryptsetup, to open
// the volume as mapper, or with test set only to check that it opens the
// token's keyslot. It returns the token that worked and, when keep is
// set, its passphrase (the caller wipes it).
func unlockVolume(ctx context.Context, dev *luksDevice, src keySource, test bool, mapper string, keep bool) (foundToken, []byte, error) {
	meta, err := dev.metadata(ctx)
	if err != nil {
		return foundToken{}, nil, err
	}
	tokens := meta.arcaTokens()
	if len(tokens) == 0 {
		return foundToken{}, nil, fmt.Errorf("%s: %w", dev.path, errNoArcaToken)
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
			err = dev.testKey(ctx, ft.Token.slot(), key)
		} else {
			err = dev.open(ctx, ft.Token.slot(), key, mapper)
		}
		if err != nil {
			wipe(key)
			errs = append(errs, fmt.Errorf("token %d: keyslot %d: %w", ft.ID, ft.Token.slot(), err))
			continue
		}
		if !keep {
			wipe(key)
			key = nil
		}
		return ft, key, nil
	}
	return foundToken{}, nil, &errUnlock{Errs: errs}
}

// errBound: bind or format on a header that has an arca token already.
var errBound = errors.New("the volume is bound to Arca already (use arca volume rotate for a new passphrase)")

// bindVolume adds a new passphrase of volume to a free keyslot, authorised
// by an existing key (bytes, or the path of a key file), and records it in
// an arca token.
func bindVolume(ctx context.Context, dev *luksDevice, src keySource, tok arcaToken, existing []byte, existingFile string) (arcaToken, error) {
	meta, err := dev.metadata(ctx)
	if err != nil {
		return arcaToken{}, err
	}
	if ts := meta.arcaTokens(); len(ts) > 0 {
		return arcaToken{}, fmt.Errorf("%s: token %d: %w", dev.path, ts[0].ID, errBound)
	}
	slot, err := meta.freeSlot()
	if err != nil {
		return arcaToken{}, err
	}
	key, wrapped, err := src.Passphrase(ctx, tok.Volume)
	if err != nil {
		return arcaToken{}, err
	}
	defer wipe(key)
	if err := dev.addKey(ctx, slot, existing, existingFile, key); err != nil {
		return arcaToken{}, fmt.Errorf("adding the Arca passphrase to keyslot %d: %w", slot, err)
	}
	tok.Type, tok.Keyslots, tok.Wrapped = arcaTokenType, []string{fmt.Sprint(slot)}, wrapped
	if err := dev.importToken(ctx, tok); err != nil {
		return arcaToken{}, fmt.Errorf("keyslot %d holds the Arca passphrase, but storing its token failed: %w", slot, err)
	}
	return tok, nil
}

// formatVolume makes dev a new LUKS2 volume whose only passphrase is a new
// one of volume, in keyslot 0, with its arca token.
func formatVolume(ctx context.Context, dev *luksDevice, src keySource, tok arcaToken) (arcaToken, error) {
	key, wrapped, err := src.Passphrase(ctx, tok.Volume)
	if err != nil {
		return arcaToken{}, err
	}
	defer wipe(key)
	if err := dev.format(ctx, key); err != nil {
		return arcaToken{}, err
	}
	tok.Type, tok.Keyslots, tok.Wrapped = arcaTokenType, []string{"0"}, wrapped
	if err := dev.importToken(ctx, tok); err != nil {
		return arcaToken{}, fmt.Errorf("formatted, but storing the arca token failed (the volume cannot be opened without it): %w", err)
	}
	return tok, nil
}

// rotateVolume replaces the Arca passphrase: the current one (found as
// unlock -test finds it) authorises a new one in a free keyslot, the new
// token is stored, and only then are the old token and keyslot removed.
// At every step one token opens one slot.
func rotateVolume(ctx context.Context, dev *luksDevice, src keySource) (old foundToken, next arcaToken, err error) {
	old, oldKey, err := unlockVolume(ctx, dev, src, true, "", true)
	if err != nil {
		return old, next, err
	}
	defer wipe(oldKey)
	meta, err := dev.metadata(ctx)
	if err != nil {
		return old, next, err
	}
	slot, err := meta.freeSlot()
	if err != nil {
		return old, next, err
	}
	key, wrapped, err := src.Passphrase(ctx, old.Token.Volume)
	if err != nil {
		return old, next, err
	}
	defer wipe(key)
	if err := dev.addKey(ctx, slot, oldKey, "", key); err != nil {
		return old, next, fmt.Errorf("adding the new passphrase to keyslot %d: %w", slot, err)
	}
	next = old.Token
	next.Keyslots, next.Wrapped = []string{fmt.Sprint(slot)}, wrapped
	if err := dev.importToken(ctx, next); err != nil {
		return old, next, fmt.Errorf("keyslot %d holds the new passphrase, but storing its token failed (the old token still works): %w", slot, err)
	}
	if err := dev.removeToken(ctx, old.ID); err != nil {
		return old, next, fmt.Errorf("the new token works, but removing the old token %d failed: %w", old.ID, err)
	}
	if err := dev.killSlot(ctx, old.Token.slot(), key); err != nil {
		return old, next, fmt.Errorf("the new token works, but wiping the old keyslot %d failed: %w", old.Token.slot(), err)
	}
	return old, next, nil
}
