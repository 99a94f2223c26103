package policy

import (
	"errors"
	"fmt"
)

var (
	// ErrUnknownCapability: a capability name that does not exist.
	ErrUnknownCapability = errors.New("unknown capability")
	// ErrInvalidPolicy: the policy text is malformed.
	ErrInvalidPolicy = errors.New("invalid policy")
)

// ParseError is one problem in a policy's text, with its line.
type ParseError struct {
	Policy string
	Line   int
	Msg    string
	Err    error
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("policy %q, line %d: %s", e.Policy, e.Line, e.Msg)
	}
	return fmt.Sprintf("policy %q: %s", e.Policy, e.Msg)
}

func (e *ParseError) Unwrap() error {
	if e.Err != nil {
		return e.Err
	}
	return ErrInvalidPolicy
}
