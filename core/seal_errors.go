package core

import (
	"errors"
	"fmt"
)

// ErrSealUnsupported: the operation or parameter does not apply to the
// configured seal (recovery keys with Shamir, key shares with a seal that
// unseals by itself). Returned wrapped with ErrInvalidRequest (400).
var ErrSealUnsupported = errors.New("not supported by this seal")

// sealUnsupported says what the configured seal does not do, and why,
// as a 400: "invalid request: WHAT not supported by this seal (TYPE): WHY".
func (c *Core) sealUnsupported(what, why string) error {
	return fmt.Errorf("%w: %s %w (%s): %s", ErrInvalidRequest, what, ErrSealUnsupported, c.seal.Type(), why)
}

// SealMismatchError: the root key in storage was wrapped by another seal
// than the configured one. Moving between seals is a seal migration.
type SealMismatchError struct {
	Stored, Configured string
}

func (e *SealMismatchError) Error() string {
	return fmt.Sprintf("the root key was wrapped by the %q seal but the server is configured with the %q seal; configure the %q seal, or mark it disabled = \"true\" beside the new one to migrate", e.Stored, e.Configured, e.Stored)
}
