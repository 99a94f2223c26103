// Package approle is the AppRole auth method, answering Vault's paths with
// Vault's JSON shapes, for machines that log in with a role ID (like a
// username, not secret) and a secret ID (like a password, handed out by an
// operator or a trusted orchestrator):
//
//	role/                                  LIST the role names
//	role/:name                             create, update, read, delete a role
//	role/:name/role-id                     read or set the role ID
//	role/:name/secret-id                   generate a secret ID; LIST accessors
//	role/:name/custom-secret-id            store a caller-chosen secret ID
//	role/:name/secret-id/lookup            read a secret ID's properties
//	role/:name/secret-id/destroy           destroy a secret ID
//	role/:name/secret-id-accessor/lookup   the same, by accessor
//	role/:name/secret-id-accessor/destroy
//	login                                  {role_id, secret_id} -> Auth
//
// A login answers with a logical.Auth; core makes the token. Every failed
// login gets the same error, whatever was wrong (role ID, secret ID,
// expiry, uses, client address), so that a caller cannot probe which part
// of a guess was right.
//
// # Storage layout
//
// Secret IDs are never stored: each is kept under the HMAC-SHA256 of its
// value, with a random salt kept in the mount's own storage, so a storage
// dump reveals no usable secret ID. Role IDs, which an operator can read
// through the API anyway, are kept inside their role's record but never
// appear in key names, which may be less protected than values.
//
//	salt                             32 random bytes, made on first use
//	role/<name>                      the role (JSON)
//	role_id/<hmac of role ID>        the name of the role with that ID
//	secret_id/<name>/<hmac of ID>    one secret ID's properties (JSON)
//	accessor/<name>/<accessor>       the HMAC of the secret ID it names
package approle

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

// Factory creates an AppRole auth method for a mount.
func Factory(ctx context.Context, conf logical.MountConfig) (logical.Engine, error) {
	now := conf.Now
	if now == nil {
		now = time.Now
	}
	return &engine{storage: conf.Storage, now: now}, nil
}

// engine is one mounted AppRole method.
type engine struct {
	storage storage.Backend
	now     func() time.Time // the mount's clock: secret ID expiry

	// mu serialises every change to roles and secret IDs, and the check
	// and use of a secret ID at login, so that a secret ID limited to n
	// uses logs in exactly n times however many logins race.
	mu sync.Mutex

	saltMu sync.Mutex
	salt   []byte // cached once loaded or made
}

var (
	_ logical.Engine           = (*engine)(nil)
	_ logical.LoginPaths       = (*engine)(nil)
	_ logical.Renewer          = (*engine)(nil)
	_ logical.ExistenceChecker = (*engine)(nil)
)

// errInvalidCredentials is the one answer to every failed login.
var errInvalidCredentials = logical.Errorf(logical.ErrInvalidRequest, "invalid role or secret ID")

// LoginPaths lets login requests through without a token.
func (e *engine) LoginPaths() []string { return []string{"login"} }

func (e *engine) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	st := e.backend(req)
	parts := strings.Split(strings.TrimSuffix(req.Path, "/"), "/")
	op := req.Operation
	if len(parts) == 1 {
		switch {
		case parts[0] == "login" && isWrite(op):
			return e.login(ctx, st, req)
		case parts[0] == "role" && op == logical.ListOperation:
			return listKeys(ctx, st, rolePrefix)
		case parts[0] == "login" || parts[0] == "role":
			return nil, unsupportedOperation(req)
		}
	}
	if len(parts) < 2 || parts[0] != "role" {
		return nil, unsupportedPath(req)
	}
	name, err := roleName(parts[1])
	if err != nil {
		return nil, err
	}
	sub := strings.Join(parts[2:], "/")
	switch {
	case sub == "":
		return e.handleRole(ctx, st, req, name)
	case sub == "role-id" && op == logical.ReadOperation:
		return e.readRoleID(ctx, st, name)
	case sub == "role-id" && isWrite(op):
		return e.writeRoleID(ctx, st, req, name)
	case sub == "secret-id" && isWrite(op):
		return e.generateSecretID(ctx, st, req, name, false)
	case sub == "custom-secret-id" && isWrite(op):
		return e.generateSecretID(ctx, st, req, name, true)
	case sub == "secret-id" && op == logical.ListOperation:
		return e.listAccessors(ctx, st, name)
	case sub == "secret-id/lookup" && isWrite(op):
		return e.lookupSecretID(ctx, st, req, name, false)
	case sub == "secret-id-accessor/lookup" && isWrite(op):
		return e.lookupSecretID(ctx, st, req, name, true)
	case sub == "secret-id/destroy" && (isWrite(op) || op == logical.DeleteOperation):
		return e.destroySecretID(ctx, st, req, name, false)
	case sub == "secret-id-accessor/destroy" && (isWrite(op) || op == logical.DeleteOperation):
		return e.destroySecretID(ctx, st, req, name, true)
	}
	switch sub {
	case "role-id", "secret-id", "custom-secret-id", "secret-id/lookup", "secret-id/destroy",
		"secret-id-accessor/lookup", "secret-id-accessor/destroy":
		return nil, unsupportedOperation(req)
	}
	return nil, unsupportedPath(req)
}

// Exists tells create from update on role/:name for policy checks.
func (e *engine) Exists(ctx context.Context, req *logical.Request) (bool, error) {
	parts := strings.Split(req.Path, "/")
	if len(parts) != 2 || parts[0] != "role" {
		// Every other write changes what is there (a password, a
		// secret ID of a role): an update, which "create" alone must
		// not allow.
		return true, nil
	}
	name, err := roleName(parts[1])
	if err != nil {
		return false, nil
	}
	r, err := loadRole(ctx, e.backend(req), name)
	return r != nil, err
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

// roleName lowercases name (role names are case-insensitive, as in Vault)
// and checks it: letters, digits, space, ".", "_" and "-".
func roleName(name string) (string, error) {
	name = strings.ToLower(name)
	bad := strings.TrimSpace(name) == "" || len(name) >= 4096
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune(" ._-", r)) {
			bad = true
		}
	}
	if bad {
		return "", logical.Errorf(logical.ErrInvalidRequest, "invalid role name: use letters, digits, space, \".\", \"_\" and \"-\"")
	}
	return name, nil
}

// newUUID returns a random (version 4) UUID, the form Vault uses for role
// IDs, secret IDs and accessors.
func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("approle: generating an ID: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

func unsupportedOperation(req *logical.Request) error {
	return logical.Errorf(logical.ErrUnsupportedOperation, "unsupported operation %q on path %q", req.Operation, req.Path)
}

func unsupportedPath(req *logical.Request) error {
	return logical.Errorf(logical.ErrUnsupportedPath, "unsupported path %q", req.Path)
}

// storageErr wraps a storage failure with what was being done.
func storageErr(doing string, err error) error {
	return fmt.Errorf("approle: %s: %w", doing, err)
}
