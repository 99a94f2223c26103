package userpass

import (
	"context"
	"time"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

func readUser(ctx context.Context, st storage.Backend, name string) (*logical.Response, error) {
	u, err := loadUser(ctx, st, name)
	if err != nil || u == nil {
		return nil, err
	}
	policies := u.Policies
	if policies == nil {
		policies = []string{}
	}
	return &logical.Response{Data: map[string]any{
		"token_policies":          policies,
		"policies":                policies,
		"token_ttl":               int64(u.TTL / time.Second),
		"token_max_ttl":           int64(u.MaxTTL / time.Second),
		"token_period":            int64(u.Period / time.Second),
		"token_num_uses":          u.NumUses,
		"token_bound_cidrs":       u.BoundCIDRs,
		"token_no_default_policy": u.NoDefaultPolicy,
		"token_type":              u.TokenType,
	}}, nil
}

// writeUser creates or updates a user; only fields present change.
// policiesOnly limits it to users/:name/policies.
func writeUser(ctx context.Context, req *logical.Request, name string, policiesOnly bool) error {
	u, err := loadUser(ctx, req.Storage, name)
	if err != nil {
		return err
	}
	d := req.Data
	if u == nil {
		if policiesOnly {
			return logical.Errorf(logical.ErrInvalidRequest, "user %s does not exist", name)
		}
		pw, _ := d["password"].(string)
		if pw == "" {
			return logical.Errorf(logical.ErrInvalidRequest, "a new user needs a non-empty password")
		}
		u = &user{}
	}
	for _, key := range []string{"token_policies", "policies"} {
		if _, ok := d[key]; ok {
			if u.Policies, err = logical.StringListParam(d, key); err != nil {
				return err
			}
			break
		}
	}
	if !policiesOnly {
		if err := applyTokenParams(d, u); err != nil {
			return err
		}
		if pw, ok := d["password"]; ok {
			s, _ := pw.(string)
			if s == "" {
				return logical.Errorf(logical.ErrInvalidRequest, "password must be a non-empty string")
			}
			if u.Password, err = hashPassword(s); err != nil {
				return err
			}
		}
	}
	return saveUser(ctx, req.Storage, name, u)
}

func applyTokenParams(d map[string]any, u *user) error {
	for key, dst := range map[string]*time.Duration{"token_ttl": &u.TTL, "ttl": &u.TTL, "token_max_ttl": &u.MaxTTL, "max_ttl": &u.MaxTTL, "token_period": &u.Period} {
		if v, ok, err := logical.DurationParam(d, key); err != nil {
			return err
		} else if ok {
			*dst = v
		}
	}
	if v, ok, err := logical.IntParam(d, "token_num_uses"); err != nil {
		return err
	} else if ok {
		u.NumUses = v
	}
	if _, ok := d["token_bound_cidrs"]; ok {
		cidrs, err := logical.StringListParam(d, "token_bound_cidrs")
		if err != nil {
			return err
		}
		u.BoundCIDRs = cidrs
	}
	if v, ok, err := logical.BoolParam(d, "token_no_default_policy"); err != nil {
		return err
	} else if ok {
		u.NoDefaultPolicy = v
	}
	if v, err := logical.StringParam(d, "token_type"); err != nil {
		return err
	} else if v != "" {
		switch v {
		case "service", "batch", "default", "default-service", "default-batch":
			u.TokenType = v
		default:
			return logical.Errorf(logical.ErrInvalidRequest, "token_type must be service or batch")
		}
	}
	return nil
}

func setPassword(ctx context.Context, req *logical.Request, name string) error {
	u, err := loadUser(ctx, req.Storage, name)
	if err != nil {
		return err
	}
	if u == nil {
		return logical.Errorf(logical.ErrInvalidRequest, "user %s does not exist", name)
	}
	pw, _ := req.Data["password"].(string)
	if pw == "" {
		return logical.Errorf(logical.ErrInvalidRequest, "password must be a non-empty string")
	}
	if u.Password, err = hashPassword(pw); err != nil {
		return err
	}
	return saveUser(ctx, req.Storage, name, u)
}

// errBadLogin is the one answer to every failed login.
var errBadLogin = logical.Errorf(logical.ErrInvalidRequest, "invalid username or password")

func (e *engine) login(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	pw, _ := req.Data["password"].(string)
	var u *user
	if validName(name) {
		var err error
		if u, err = loadUser(ctx, req.Storage, name); err != nil {
			return nil, err
		}
	}
	if u == nil {
		dummyHash.matches(pw)
		return nil, errBadLogin
	}
	if pw == "" || !u.Password.matches(pw) {
		return nil, errBadLogin
	}
	return &logical.Response{Auth: &logical.Auth{
		Policies:        u.Policies,
		NoDefaultPolicy: u.NoDefaultPolicy,
		TTL:             u.TTL,
		MaxTTL:          u.MaxTTL,
		Period:          u.Period,
		NumUses:         u.NumUses,
		Renewable:       true,
		DisplayName:     name,
		Metadata:        map[string]string{"username": name},
		BoundCIDRs:      u.BoundCIDRs,
		TokenType:       u.TokenType,
		InternalData:    map[string]string{"username": name},
	}}, nil
}

// RenewAuth refuses renewal once the user is gone.
func (e *engine) RenewAuth(ctx context.Context, req *logical.Request, a *logical.Auth) (*logical.Auth, error) {
	name := a.InternalData["username"]
	u, err := loadUser(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, logical.Errorf(logical.ErrPermissionDenied, "the user of this token no longer exists")
	}
	return a, nil
}
