package seal

import "errors"

// Errors seals return, matched with errors.Is. None carries key material.
var (
	// ErrUnwrap: the shares or the seal key do not open the wrapped root
	// key (wrong or too few shares, a different key, tampered bytes).
	ErrUnwrap = errors.New("the root key could not be unwrapped: the key shares or the seal key do not match it")
	// ErrInvalidShare: a key share that cannot be one of this seal's
	// shares (wrong length, bad encoding).
	ErrInvalidShare = errors.New("malformed key share")
	// ErrInvalidSplit: shares and threshold the seal cannot make.
	ErrInvalidSplit = errors.New("invalid number of shares or threshold")
	// ErrUnavailable: the seal's key cannot be reached now.
	ErrUnavailable = errors.New("seal unavailable")
)
