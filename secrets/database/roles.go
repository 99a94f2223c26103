package database

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

const rolePrefix = "role/"

// role is a dynamic role: how to create, renew and drop a user.
type role struct {
	DBName     string        `json:"db_name"`
	Creation   []string      `json:"creation_statements"`
	Revocation []string      `json:"revocation_statements,omitempty"`
	Rollback   []string      `json:"rollback_statements,omitempty"`
	Renew      []string      `json:"renew_statements,omitempty"`
	DefaultTTL time.Duration `json:"default_ttl"`
	MaxTTL     time.Duration `json:"max_ttl"`
}

func getRole(ctx context.Context, st storage.Backend, name string) (*role, error) {
	e, err := st.Get(ctx, rolePrefix+name)
	if err != nil || e == nil {
		return nil, err
	}
	var r role
	if err := json.Unmarshal(e.Value, &r); err != nil {
		return nil, fmt.Errorf("decoding role %q: %w", name, err)
	}
	return &r, nil
}

func (e *Engine) readRole(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	r, err := getRole(ctx, req.Storage, name)
	if err != nil || r == nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]any{
		"db_name":               r.DBName,
		"creation_statements":   logical.NonNil(r.Creation),
		"revocation_statements": logical.NonNil(r.Revocation),
		"rollback_statements":   logical.NonNil(r.Rollback),
		"renew_statements":      logical.NonNil(r.Renew),
		"default_ttl":           int64(r.DefaultTTL / time.Second),
		"max_ttl":               int64(r.MaxTTL / time.Second),
		"credential_type":       "password",
		"credential_config":     map[string]any{},
	}}, nil
}

// writeRole creates or updates a role; fields not given keep their value.
func (e *Engine) writeRole(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	if s, err := getStaticRole(ctx, req.Storage, name); err != nil {
		return nil, err
	} else if s != nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "%q is already a static role; role names are shared", name)
	}
	r, err := getRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if r == nil {
		r = &role{}
	}
	d := req.Data
	if _, ok := d["db_name"]; ok {
		if r.DBName, err = logical.StringParam(d, "db_name"); err != nil {
			return nil, err
		}
	}
	if r.DBName == "" {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "db_name is required")
	}
	for key, dst := range map[string]*[]string{"creation_statements": &r.Creation, "revocation_statements": &r.Revocation, "rollback_statements": &r.Rollback, "renew_statements": &r.Renew} {
		if _, ok := d[key]; ok {
			if *dst, err = statementsParam(d, key); err != nil {
				return nil, err
			}
		}
	}
	if len(r.Creation) == 0 {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "creation_statements are required")
	}
	for key, dst := range map[string]*time.Duration{"default_ttl": &r.DefaultTTL, "max_ttl": &r.MaxTTL} {
		if v, ok, err := logical.DurationParam(d, key); err != nil {
			return nil, err
		} else if ok {
			*dst = v
		}
	}
	if r.MaxTTL > 0 && r.DefaultTTL > r.MaxTTL {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "default_ttl cannot be greater than max_ttl")
	}
	if v, ok := d["credential_type"]; ok && v != "password" {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "credential_type must be \"password\" (the only type Arca supports)")
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return nil, req.Storage.Put(ctx, &storage.Entry{Key: rolePrefix + name, Value: raw})
}

// deleteRole deletes a role. Credentials already issued keep their leases
// and are dropped with the default statements when those end.
func (e *Engine) deleteRole(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	return nil, req.Storage.Delete(ctx, rolePrefix+name)
}

// Exists tells create from update for the policy check.
func (e *Engine) Exists(ctx context.Context, req *logical.Request) (bool, error) {
	kind, name, _ := strings.Cut(req.Path, "/")
	prefix := map[string]string{"config": configPrefix, "roles": rolePrefix, "static-roles": staticPrefix}[kind]
	if prefix == "" || name == "" {
		return true, nil
	}
	e2, err := req.Storage.Get(ctx, prefix+name)
	return e2 != nil, err
}
