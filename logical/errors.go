package logical

import (
	"errors"
	"fmt"
)

// Sentinel errors an engine returns; the server maps them to HTTP status
// codes in one place.
var (
	// ErrUnsupportedPath: no handler for this path (404).
	ErrUnsupportedPath = errors.New("unsupported path")
	// ErrUnsupportedOperation: the path exists but not for this operation (405).
	ErrUnsupportedOperation = errors.New("unsupported operation")
	// ErrInvalidRequest: the request's input is wrong (400).
	ErrInvalidRequest = errors.New("invalid request")
	// ErrNotFound: the named thing does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrPermissionDenied: refused (403).
	ErrPermissionDenied = errors.New("permission denied")
	// ErrUpstream: a system the engine depends on (a database) failed or
	// refused (502); the message says which and why.
	ErrUpstream = errors.New("upstream error")
)

// Errorf returns an error that wraps kind (one of the sentinels above) with
// a message meant for the client. The message is the whole text the client
// sees, so it must never include a secret value.
func Errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Error is an error meant for the client, of a kind the server maps to a
// status code.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Kind }
