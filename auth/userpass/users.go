package userpass

import (
	"context"
	"encoding/json"

	"github.com/arca-secrets/arca/auth/internal/tokenfields"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

const userPrefix = "user/"

// user is one stored user: the password hash and the token settings.
type user struct {
	PasswordHash *passwordHash `json:"password_hash"`
	tokenfields.Fields
}

// userKeys are the fields users/:name understands.
var userKeys = append([]string{"password", "username"}, tokenfields.Keys...)

func loadUser(ctx context.Context, st storage.Backend, name string) (*user, error) {
	entry, err := st.Get(ctx, userPrefix+name)
	if err != nil {
		return nil, storageErr("reading user", err)
	}
	if entry == nil {
		return nil, nil
	}
	var u user
	if err := json.Unmarshal(entry.Value, &u); err != nil {
		return nil, storageErr("decoding user", err)
	}
	return &u, nil
}

func saveUser(ctx context.Context, st storage.Backend, name string, u *user) error {
	raw, err := json.Marshal(u)
	if err != nil {
		return storageErr("encoding user", err)
	}
	if err := st.Put(ctx, &storage.Entry{Key: userPrefix + name, Value: raw}); err != nil {
		return storageErr("writing user", err)
	}
	return nil
}

// listUsers answers with the usernames, or nil (404) when there are none,
// as Vault does.
func listUsers(ctx context.Context, st storage.Backend) (*logical.Response, error) {
	names, err := st.List(ctx, userPrefix)
	if err != nil {
		return nil, storageErr("listing users", err)
	}
	if len(names) == 0 {
		return nil, nil
	}
	return &logical.Response{Data: map[string]any{"keys": names}}, nil
}

func (e *engine) handleUser(ctx context.Context, st storage.Backend, req *logical.Request, name string) (*logical.Response, error) {
	switch req.Operation {
	case logical.ReadOperation:
		u, err := loadUser(ctx, st, name)
		if err != nil || u == nil {
			return nil, err
		}
		// The hash is left out on purpose: it is never shown.
		data := map[string]any{}
		u.Fill(data)
		return &logical.Response{Data: data}, nil
	case logical.CreateOperation, logical.UpdateOperation:
		return e.writeUser(ctx, st, req, name)
	case logical.DeleteOperation:
		if err := st.Delete(ctx, userPrefix+name); err != nil {
			return nil, storageErr("deleting user", err)
		}
		return nil, nil
	}
	return nil, unsupportedOperation(req)
}

// passwordParam reads "password"; present is false when it is absent, and
// an empty password is refused.
func passwordParam(data map[string]any) (pw string, present bool, err error) {
	if v, ok := data["password"]; !ok || v == nil {
		return "", false, nil
	}
	pw, err = logical.StringParam(data, "password")
	if err != nil {
		return "", false, err
	}
	if pw == "" {
		return "", false, logical.Errorf(logical.ErrInvalidRequest, "password must not be empty")
	}
	return pw, true, nil
}

// writeUser creates a user (a password is then required) or updates the
// fields given. The password is hashed before the lock is taken, so that
// slow hashing does not hold up other writes.
func (e *engine) writeUser(ctx context.Context, st storage.Backend, req *logical.Request, name string) (*logical.Response, error) {
	pw, hasPW, err := passwordParam(req.Data)
	if err != nil {
		return nil, err
	}
	var h *passwordHash
	if hasPW {
		if h, err = hashPassword(pw, e.params); err != nil {
			return nil, err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	u, err := loadUser(ctx, st, name)
	if err != nil {
		return nil, err
	}
	if u == nil {
		if !hasPW {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "missing password")
		}
		u = &user{}
	}
	if err := u.Parse(req.Data); err != nil {
		return nil, err
	}
	if h != nil {
		u.PasswordHash = h
	}
	if err := saveUser(ctx, st, name, u); err != nil {
		return nil, err
	}
	return warnings(req.Data, userKeys), nil
}

// errNoUser is answered when changing a user that does not exist.
var errNoUser = logical.Errorf(logical.ErrInvalidRequest, "username does not exist")

func (e *engine) updatePassword(ctx context.Context, st storage.Backend, req *logical.Request, name string) (*logical.Response, error) {
	pw, hasPW, err := passwordParam(req.Data)
	if err != nil {
		return nil, err
	}
	if !hasPW {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "missing password")
	}
	h, err := hashPassword(pw, e.params)
	if err != nil {
		return nil, err
	}
	return e.modify(ctx, st, name, func(u *user) error {
		u.PasswordHash = h
		return nil
	})
}

func (e *engine) updatePolicies(ctx context.Context, st storage.Backend, req *logical.Request, name string) (*logical.Response, error) {
	key := "token_policies"
	if _, ok := req.Data[key]; !ok {
		key = "policies"
	}
	if _, ok := req.Data[key]; !ok {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "missing token_policies")
	}
	p, err := logical.StringListParam(req.Data, key)
	if err != nil {
		return nil, err
	}
	return e.modify(ctx, st, name, func(u *user) error {
		u.Policies = tokenfields.NormalizePolicies(p)
		return nil
	})
}

// modify applies change to an existing user under the lock.
func (e *engine) modify(ctx context.Context, st storage.Backend, name string, change func(*user) error) (*logical.Response, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	u, err := loadUser(ctx, st, name)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, errNoUser
	}
	if err := change(u); err != nil {
		return nil, err
	}
	return nil, saveUser(ctx, st, name, u)
}

// warnings answers a write with a warning naming ignored fields, or nil.
func warnings(data map[string]any, known []string) *logical.Response {
	if w := tokenfields.UnknownWarning(data, known); w != nil {
		return &logical.Response{Warnings: w}
	}
	return nil
}
