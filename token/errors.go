package token

import "errors"

var (
	// ErrNotFound: no such token or accessor (or it expired).
	ErrNotFound = errors.New("token not found")
	// ErrInvalid: the request to create or renew is malformed or not allowed.
	ErrInvalid = errors.New("invalid token request")
	// ErrNotRenewable: the token cannot be renewed.
	ErrNotRenewable = errors.New("token is not renewable")
)
