package agent

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// errNotReady: the agent has no token of its own yet.
	errNotReady = errors.New("the agent has not authenticated to the server yet")
	// errForbidden: the server answered 403 (a serverError unwraps to it).
	errForbidden = errors.New("forbidden")
	// errBadToken: the server no longer accepts a token (it refused the
	// token's own lookup-self): it expired, or was revoked, as a role
	// change revokes every token the role issued.
	errBadToken = errors.New("the server no longer accepts the token")
	// errSelfLookup: a workload's new token cannot look itself up.
	errSelfLookup = errors.New("the workload's token may not look itself up (auth/token/lookup-self): the default policy must allow it, since the agent tells a revoked token from a refused request with it")
)

// serverError is a refusal from the server.
type serverError struct {
	status int
	msgs   []string
}

func (e *serverError) Error() string {
	return fmt.Sprintf("server answered %d: %s", e.status, strings.Join(e.msgs, "; "))
}

// Unwrap makes a 403 errors.Is(err, errForbidden).
func (e *serverError) Unwrap() error {
	if e.status == 403 {
		return errForbidden
	}
	return nil
}
