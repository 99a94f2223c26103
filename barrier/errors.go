package barrier

import "errors"

var (
	// ErrSealed: the barrier holds no keys.
	ErrSealed = errors.New("barrier is sealed")
	// ErrNotInitialized: no keyring has been written.
	ErrNotInitialized = errors.New("barrier is not initialized")
	// ErrAlreadyInitialized: a keyring exists already.
	ErrAlreadyInitialized = errors.New("barrier is already initialized")
	// ErrBadRootKey: the key given does not open the keyring.
	ErrBadRootKey = errors.New("root key does not open the keyring")
	// ErrBadKeySize: a key is not KeySize bytes.
	ErrBadKeySize = errors.New("key must be 32 bytes")
	// ErrCorruptKeyring: the keyring entry cannot be decoded.
	ErrCorruptKeyring = errors.New("keyring is corrupt")
	// ErrCorruptEntry: an entry failed authentication or is malformed
	// (tampered with, truncated, or moved from another key).
	ErrCorruptEntry = errors.New("storage entry failed authentication")
	// ErrUnknownTerm: an entry names a keyring term the keyring lacks.
	ErrUnknownTerm = errors.New("storage entry is sealed with an unknown keyring term")
)
