package pkcs11

import "errors"

// Errors of the PKCS#11 seal, matched with errors.Is. Each also matches
// one of package seal's errors where one applies. None carries the PIN.
var (
	// ErrPIN: the token refused the PIN (wrong, locked or expired).
	// Retrying with the same PIN cannot help and may lock the token, so it
	// does not match seal.ErrUnavailable.
	ErrPIN = errors.New("the token refused the PIN")
	// ErrKeyNotFound: the token holds no key with the configured label
	// (deleted, never made, or another token).
	ErrKeyNotFound = errors.New("no key with this label in the token")
	// ErrKeyUnsafe: the key with the configured label could leave the
	// token (CKA_EXTRACTABLE true or CKA_SENSITIVE false), or there are
	// several with that label. The seal refuses to use it.
	ErrKeyUnsafe = errors.New("the key cannot be used to protect the root key")
	// ErrConfig: the seal's configuration is incomplete or contradictory.
	ErrConfig = errors.New("invalid pkcs11 seal configuration")
)
