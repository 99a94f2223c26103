// Package userpass is the username and password auth method, compatible
// with Vault's. Passwords are stored only as argon2id hashes (salted, with
// their parameters); a login for an unknown user costs the same as a wrong
// password and gets the same answer.
//
// Storage: user/<name> holds the user (JSON).
package userpass

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

const userPrefix = "user/"

// Factory creates the auth method for a mount.
func Factory(_ context.Context, conf logical.MountConfig) (logical.Engine, error) {
	return &engine{}, nil
}

type engine struct{}

var (
	_ logical.Engine     = (*engine)(nil)
	_ logical.LoginPaths = (*engine)(nil)
	_ logical.Renewer    = (*engine)(nil)
)

// user is one stored user.
type user struct {
	Password        *passwordHash `json:"password"`
	Policies        []string      `json:"policies"`
	TTL             time.Duration `json:"ttl"`
	MaxTTL          time.Duration `json:"max_ttl"`
	Period          time.Duration `json:"period"`
	NumUses         int           `json:"num_uses"`
	BoundCIDRs      []string      `json:"bound_cidrs"`
	NoDefaultPolicy bool          `json:"no_default_policy"`
	TokenType       string        `json:"token_type"`
}

func (e *engine) LoginPaths() []string { return []string{"login/*"} }

// validName: lowercase letters, digits and ._@- (names are lowercased).
func validName(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._@-", r)) {
			return false
		}
	}
	return true
}

func loadUser(ctx context.Context, st storage.Backend, name string) (*user, error) {
	e, err := st.Get(ctx, userPrefix+name)
	if err != nil || e == nil {
		return nil, err
	}
	var u user
	if err := json.Unmarshal(e.Value, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

func saveUser(ctx context.Context, st storage.Backend, name string, u *user) error {
	raw, err := json.Marshal(u)
	if err != nil {
		return err
	}
	return st.Put(ctx, &storage.Entry{Key: userPrefix + name, Value: raw})
}

func (e *engine) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	path := strings.Trim(req.Path, "/")
	write := req.Operation == logical.UpdateOperation || req.Operation == logical.CreateOperation
	switch {
	case path == "users" && req.Operation == logical.ListOperation:
		keys, err := req.Storage.List(ctx, userPrefix)
		if err != nil {
			return nil, err
		}
		if len(keys) == 0 {
			return nil, nil
		}
		return &logical.Response{Data: map[string]any{"keys": keys}}, nil
	case strings.HasPrefix(path, "login/") && write:
		return e.login(ctx, req, strings.ToLower(strings.TrimPrefix(path, "login/")))
	case strings.HasPrefix(path, "users/"):
		rest := strings.TrimPrefix(path, "users/")
		name, sub, _ := strings.Cut(rest, "/")
		name = strings.ToLower(name)
		if !validName(name) {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "invalid username: use lowercase letters, digits and ._@-")
		}
		switch {
		case sub == "" && req.Operation == logical.ReadOperation:
			return readUser(ctx, req.Storage, name)
		case sub == "" && req.Operation == logical.DeleteOperation:
			return nil, req.Storage.Delete(ctx, userPrefix+name)
		case sub == "" && write:
			return nil, writeUser(ctx, req, name, false)
		case sub == "password" && write:
			return nil, setPassword(ctx, req, name)
		case sub == "policies" && write:
			return nil, writeUser(ctx, req, name, true)
		}
	}
	return nil, logical.Errorf(logical.ErrUnsupportedPath, "unsupported path or operation: %s %s", req.Operation, path)
}
