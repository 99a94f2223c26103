// Package userpass is the username and password auth method, answering
// Vault's paths with Vault's JSON shapes:
//
//	users/            LIST the usernames
//	users/:name       create, update, read, delete a user
//	users/:name/password   change the password
//	users/:name/policies   change the token policies
//	login/:name       log in with {"password": ...}
//
// A login answers with a logical.Auth (policies, TTLs, bound CIDRs, the
// username as display name and metadata); core makes the token.
//
// Passwords are never stored: each user keeps an argon2id hash with its
// own random salt and the cost parameters it was made with, so that the
// parameters can be raised later (a successful login re-hashes with the
// current ones). A login for an unknown user hashes the password against a
// dummy all the same and fails with the same error as a wrong password, so
// that neither the answer nor its timing tells which usernames exist.
//
// # Storage layout
//
//	user/<name>   the user's JSON: password hash and token settings
package userpass

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

// Factory creates a userpass auth method for a mount.
func Factory(ctx context.Context, conf logical.MountConfig) (logical.Engine, error) {
	return newEngine(conf, defaultParams), nil
}

func newEngine(conf logical.MountConfig, p hashParams) *engine {
	return &engine{storage: conf.Storage, params: p}
}

// engine is one mounted userpass method.
type engine struct {
	storage storage.Backend
	// params are the argon2id costs for new hashes.
	params hashParams
	// mu serialises read-modify-write of user entries, so that concurrent
	// updates of one user's password and policies do not undo each other.
	mu sync.Mutex
}

var (
	_ logical.Engine           = (*engine)(nil)
	_ logical.LoginPaths       = (*engine)(nil)
	_ logical.Renewer          = (*engine)(nil)
	_ logical.ExistenceChecker = (*engine)(nil)
)

// errInvalidCredentials is the one answer to every failed login, whatever
// was wrong, so that a caller learns nothing about which usernames exist.
var errInvalidCredentials = logical.Errorf(logical.ErrInvalidRequest, "invalid username or password")

// LoginPaths lets login requests through without a token.
func (e *engine) LoginPaths() []string { return []string{"login/*"} }

func (e *engine) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	st := e.backend(req)
	parts := strings.Split(strings.TrimSuffix(req.Path, "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "users":
		if req.Operation != logical.ListOperation {
			return nil, unsupportedOperation(req)
		}
		return listUsers(ctx, st)
	case len(parts) >= 2 && parts[0] == "users":
		name, err := username(parts[1])
		if err != nil {
			return nil, err
		}
		switch {
		case len(parts) == 2:
			return e.handleUser(ctx, st, req, name)
		case len(parts) == 3 && parts[2] == "password" && isWrite(req.Operation):
			return e.updatePassword(ctx, st, req, name)
		case len(parts) == 3 && parts[2] == "policies" && isWrite(req.Operation):
			return e.updatePolicies(ctx, st, req, name)
		case len(parts) == 3 && (parts[2] == "password" || parts[2] == "policies"):
			return nil, unsupportedOperation(req)
		}
	case len(parts) == 2 && parts[0] == "login":
		if !isWrite(req.Operation) {
			return nil, unsupportedOperation(req)
		}
		return e.login(ctx, st, req, parts[1])
	}
	return nil, logical.Errorf(logical.ErrUnsupportedPath, "unsupported path %q", req.Path)
}

// Exists tells create from update on users/:name for policy checks.
func (e *engine) Exists(ctx context.Context, req *logical.Request) (bool, error) {
	parts := strings.Split(req.Path, "/")
	if len(parts) != 2 || parts[0] != "users" {
		// Every other write changes what is there (a password, a
		// secret ID of a role): an update, which "create" alone must
		// not allow.
		return true, nil
	}
	name, err := username(parts[1])
	if err != nil {
		return false, nil
	}
	u, err := loadUser(ctx, e.backend(req), name)
	return u != nil, err
}

// backend returns the request's storage view, or the mount's when the
// request carries none.
func (e *engine) backend(req *logical.Request) storage.Backend {
	if req.Storage != nil {
		return req.Storage
	}
	return e.storage
}

func isWrite(op logical.Operation) bool {
	return op == logical.CreateOperation || op == logical.UpdateOperation
}

// username lowercases name and checks it: letters, digits and ".", "_",
// "@", "-", neither starting with "-" nor starting or ending with ".".
func username(name string) (string, error) {
	name = strings.ToLower(name)
	bad := name == "" || len(name) > 256 || strings.HasPrefix(name, "-") ||
		strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".")
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._@-", r)) {
			bad = true
		}
	}
	if bad {
		return "", logical.Errorf(logical.ErrInvalidRequest, "invalid username: use letters, digits, \".\", \"_\", \"@\" and \"-\"")
	}
	return name, nil
}

func unsupportedOperation(req *logical.Request) error {
	return logical.Errorf(logical.ErrUnsupportedOperation, "unsupported operation %q on path %q", req.Operation, req.Path)
}

// storageErr wraps a storage failure with what was being done; the
// username is left out, as it may be sensitive in logs.
func storageErr(doing string, err error) error {
	return fmt.Errorf("userpass: %s: %w", doing, err)
}
