package logical

import (
	"context"
	"time"
)

// Auth is what an auth method's login answers with: who logged in and
// what the token core then creates may do. Core turns it into a token; the
// engine never sees or makes tokens itself.
type Auth struct {
	// Policies the token gets ("default" is added by core unless
	// NoDefaultPolicy).
	Policies        []string
	NoDefaultPolicy bool
	// TTL and MaxTTL of the token; zero means the mount's or system's
	// default. Period makes a periodic token (renewable forever, TTL reset
	// to Period on each renewal).
	TTL, MaxTTL, Period time.Duration
	// NumUses limits the token's uses; zero is unlimited.
	NumUses int
	// Renewable says whether the token may be renewed.
	Renewable bool
	// DisplayName is shown in lookups and audit, prefixed by the mount.
	DisplayName string
	// Metadata is copied to the token (visible on lookup; never secrets).
	Metadata map[string]string
	// BoundCIDRs limits the client addresses that may use the token.
	BoundCIDRs []string
	// TokenType is "service" (default) or "batch".
	TokenType string
	// InternalData is kept with the token for the method's own use on
	// renewal (for example the role name); it is not shown to clients.
	InternalData map[string]string
	// LeasePath, relative to the mount, is where the token's lease is
	// registered (default: the login's request path), so that the method
	// can later revoke a group of logins by prefix (every token of a role).
	LeasePath string
}

// LoginPaths is implemented by auth methods: the paths (relative to the
// mount, a trailing "*" matching any suffix) that answer without a token,
// such as "login" or "login/*".
type LoginPaths interface {
	LoginPaths() []string
}

// Renewer is implemented by auth methods that check, when a token they
// issued is renewed, that the login is still valid (the user or role
// still exists). It returns the Auth to renew with, or an error to refuse.
type Renewer interface {
	RenewAuth(ctx context.Context, req *Request, auth *Auth) (*Auth, error)
}

// ExistenceChecker is implemented by engines that distinguish create from
// update for policy checks: a write to a path that exists needs the
// "update" capability, to one that does not, "create".
type ExistenceChecker interface {
	Exists(ctx context.Context, req *Request) (bool, error)
}
