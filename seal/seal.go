// Package seal defines what protects Arca's root key. A Seal wraps the root
// key for storage and unwraps it at unseal; core stores the wrapped bytes
// and never sees the seal's own key.
//
// Two kinds of seal exist. One needs people: its key is made afresh at each
// Wrap and handed out as key shares, and Unwrap takes a quorum of them back
// (Shamir, in seal/shamir). The other unseals by itself: its key lives
// somewhere else (an HSM through PKCS#11, another server's transit engine),
// Wrap returns no shares and Unwrap needs none. Such a seal has recovery
// shares instead, which authorise operations but cannot unseal.
//
// The interface is modelled on age's Recipient and Identity: small, the
// wrapped bytes opaque to everyone but the seal that made them, and extra
// abilities (ShareChecker) found by type assertion.
package seal

import "context"

// Seal protects the root key.
type Seal interface {
	// Type names the seal as seal-status reports it and as the seal-config
	// records it: "shamir", later "pkcs11" and "transit".
	Type() string

	// AutoUnseal reports whether Unwrap needs no key shares: the seal
	// holds its key itself and a server can unseal on its own.
	AutoUnseal() bool

	// Wrap protects rootKey for storage and returns the wrapped bytes.
	// A seal that needs people makes a new key for this wrap and returns
	// it split as split asks; the caller hands the shares out and wipes
	// them. A seal that unseals by itself ignores split and returns no
	// shares. Wrap only reads rootKey.
	Wrap(ctx context.Context, rootKey []byte, split Split) (wrapped []byte, shares [][]byte, err error)

	// Unwrap returns the root key from wrapped, which Wrap made. shares
	// are key shares given by people (nil for a seal that unseals by
	// itself). Shares or a seal key that do not open wrapped give an
	// error matching ErrUnwrap. The caller wipes the result.
	Unwrap(ctx context.Context, wrapped []byte, shares [][]byte) ([]byte, error)

	// Health reports whether the seal can wrap and unwrap now: nil when
	// it can, an error matching ErrUnavailable when its key is out of
	// reach (an HSM unplugged, a transit server down).
	Health(ctx context.Context) error
}

// ShareChecker is a seal that can tell a malformed key share on its own,
// before a quorum is reached, so that a typing error is refused at once
// and not counted.
type ShareChecker interface {
	// CheckShare returns an error matching ErrInvalidShare when share
	// cannot be one of the shares of a key split as split says.
	CheckShare(share []byte, split Split) error
}

// Split says how a key is split into shares: any Threshold of Shares open
// what it wrapped.
type Split struct {
	Shares    int
	Threshold int
}

// KeyWrapper is a seal that needs people whose key shares are a split of
// one key with Shamir's scheme (seal/shamir's Split and Combine), and that
// can wrap the root key with a key it is given instead of a new one. Seal
// migration needs it on a seal that needs people, to keep the shares in
// people's hands: migrating away, the key the unseal shares combine to
// becomes the new seal's recovery key; migrating to it, the recovery key
// becomes its unseal key.
type KeyWrapper interface {
	// WrapWithKey wraps rootKey with key, as Wrap does with a key it makes.
	// Unwrap opens the result with shares of key. It only reads both.
	WrapWithKey(ctx context.Context, rootKey, key []byte) (wrapped []byte, err error)
}
