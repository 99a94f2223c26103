package userpass

import (
	"context"
	"slices"

	"github.com/arca-secrets/arca/auth/internal/tokenfields"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

// login checks the password and answers with the Auth core makes a token
// from. Every failure (unknown or malformed username, wrong password)
// gives the same error after the same hashing work. token_bound_cidrs do
// not gate the login: they are copied to the token, which core refuses to
// honour from other addresses.
func (e *engine) login(ctx context.Context, st storage.Backend, req *logical.Request, rawName string) (*logical.Response, error) {
	pw, err := logical.StringParam(req.Data, "password")
	if err != nil {
		return nil, err
	}
	if pw == "" {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "missing password")
	}
	name, nameErr := username(rawName)
	var u *user
	if nameErr == nil {
		if u, err = loadUser(ctx, st, name); err != nil {
			return nil, err
		}
	}
	if u == nil || u.PasswordHash == nil {
		dummyHash(e.params).verify(pw)
		return nil, errInvalidCredentials
	}
	if !u.PasswordHash.verify(pw) {
		return nil, errInvalidCredentials
	}
	if u.PasswordHash.weakerThan(e.params) {
		if err := e.rehash(ctx, st, name, pw, u.PasswordHash); err != nil {
			return nil, err
		}
	}
	auth := u.Auth()
	auth.DisplayName = name
	auth.Metadata = map[string]string{"username": name}
	auth.InternalData = map[string]string{"username": name}
	return &logical.Response{Auth: auth}, nil
}

// rehash replaces a hash made with lower costs than the current ones, now
// that the password is known to be right. It leaves the user alone if the
// hash changed meanwhile (the password was changed by someone else).
func (e *engine) rehash(ctx context.Context, st storage.Backend, name, pw string, old *passwordHash) error {
	h, err := hashPassword(pw, e.params)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	u, err := loadUser(ctx, st, name)
	if err != nil || u == nil || u.PasswordHash == nil || !slices.Equal(u.PasswordHash.Hash, old.Hash) {
		return err
	}
	u.PasswordHash = h
	return saveUser(ctx, st, name, u)
}

// RenewAuth refuses to renew a token whose user was deleted or whose
// policies changed since login, and otherwise renews it with the user's
// current TTLs.
func (e *engine) RenewAuth(ctx context.Context, req *logical.Request, auth *logical.Auth) (*logical.Auth, error) {
	name := auth.InternalData["username"]
	if name == "" {
		name = auth.Metadata["username"]
	}
	u, err := loadUser(ctx, e.backend(req), name)
	if err != nil {
		return nil, err
	}
	if u == nil || name == "" {
		return nil, logical.Errorf(logical.ErrPermissionDenied, "renewal refused: the user no longer exists")
	}
	// "default" is added by core to every token, so it does not count as
	// a change (as in Vault).
	if !slices.Equal(withoutDefault(auth.Policies), withoutDefault(u.Policies)) {
		return nil, logical.Errorf(logical.ErrPermissionDenied, "renewal refused: the user's policies have changed")
	}
	current := u.Auth()
	renewed := *auth
	renewed.TTL, renewed.MaxTTL, renewed.Period = current.TTL, current.MaxTTL, current.Period
	return &renewed, nil
}

func withoutDefault(p []string) []string {
	return slices.DeleteFunc(tokenfields.NormalizePolicies(p), func(s string) bool { return s == "default" })
}
