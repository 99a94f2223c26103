package core

import "errors"

// Errors core returns; the server maps them to HTTP status codes.
var (
	// ErrSealed: the server is sealed (503).
	ErrSealed = errors.New("Arca is sealed")
	// ErrNotInitialized: the server has not been initialized (400 / 503).
	ErrNotInitialized = errors.New("Arca is not initialized")
	// ErrAlreadyInitialized: init was called twice (400).
	ErrAlreadyInitialized = errors.New("Arca is already initialized")
	// ErrPermissionDenied: no token, an unknown token, or not allowed (403).
	ErrPermissionDenied = errors.New("permission denied")
	// ErrInvalidUnsealKey: a key share that cannot be decoded or has the
	// wrong length; it is not counted (400).
	ErrInvalidUnsealKey = errors.New("invalid unseal key")
	// ErrUnsealFailed: the shares given do not combine to this server's
	// unseal key; progress is reset (400).
	ErrUnsealFailed = errors.New("unseal failed: the key shares do not combine to this server's unseal key; progress has been reset, provide the shares again")
	// ErrInvalidRequest: bad parameters for a sys operation (400).
	ErrInvalidRequest = errors.New("invalid request")
	// ErrNoRekey: no rekey is in progress (400).
	ErrNoRekey = errors.New("no rekey is in progress")
	// ErrRekeyInProgress: a rekey was started already (400).
	ErrRekeyInProgress = errors.New("a rekey is already in progress")
	// ErrNonceMismatch: the rekey nonce does not match (400).
	ErrNonceMismatch = errors.New("the nonce given does not match the rekey in progress")
	// ErrSharesRejected: a quorum of key shares given to authorise an
	// operation does not combine to this server's key; progress is reset
	// (400).
	ErrSharesRejected = errors.New("the key shares given do not combine to this server's key; progress has been reset, provide the shares again")
	// ErrNoMount: no mount serves the path (404 for requests).
	ErrNoMount = errors.New("no handler for route")
)
