package approle

import (
	"context"
	"crypto/subtle"

	"github.com/arca-secrets/arca/auth/internal/tokenfields"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

// roleKeys are the fields role/:name understands.
var roleKeys = append([]string{
	"role_name", "role_id", "bind_secret_id", "secret_id_bound_cidrs",
	"secret_id_num_uses", "secret_id_ttl", "local_secret_ids",
}, tokenfields.Keys...)

func (e *engine) handleRole(ctx context.Context, st storage.Backend, req *logical.Request, name string) (*logical.Response, error) {
	switch req.Operation {
	case logical.ReadOperation:
		r, err := loadRole(ctx, st, name)
		if err != nil || r == nil {
			return nil, err
		}
		data := map[string]any{
			"bind_secret_id":        r.BindSecretID,
			"secret_id_bound_cidrs": logical.NonNil(r.SecretIDBoundCIDRs),
			"secret_id_num_uses":    r.SecretIDNumUses,
			"secret_id_ttl":         r.SecretIDTTL,
			"local_secret_ids":      false,
		}
		r.Fill(data)
		return &logical.Response{Data: data}, nil
	case logical.CreateOperation, logical.UpdateOperation:
		return e.writeRole(ctx, st, req, name)
	case logical.DeleteOperation:
		return nil, e.deleteRole(ctx, st, name)
	}
	return nil, unsupportedOperation(req)
}

// writeRole creates a role or changes the fields given. A new role gets a
// random role ID unless one is given.
func (e *engine) writeRole(ctx context.Context, st storage.Backend, req *logical.Request, name string) (*logical.Response, error) {
	d := req.Data
	e.mu.Lock()
	defer e.mu.Unlock()
	r, err := loadRole(ctx, st, name)
	if err != nil {
		return nil, err
	}
	if r == nil {
		r = &role{BindSecretID: true}
	}
	oldID := r.RoleID
	if b, ok, err := logical.BoolParam(d, "bind_secret_id"); err != nil {
		return nil, err
	} else if ok {
		r.BindSecretID = b
	}
	if _, ok := d["secret_id_bound_cidrs"]; ok {
		if r.SecretIDBoundCIDRs, err = tokenfields.CIDRListParam(d, "secret_id_bound_cidrs"); err != nil {
			return nil, err
		}
	}
	if n, ok, err := logical.IntParam(d, "secret_id_num_uses"); err != nil {
		return nil, err
	} else if ok {
		r.SecretIDNumUses = n
	}
	if ttl, ok, err := logical.DurationParam(d, "secret_id_ttl"); err != nil {
		return nil, err
	} else if ok {
		r.SecretIDTTL = int64(ttl.Seconds())
	}
	if err := r.Parse(d); err != nil {
		return nil, err
	}
	id, err := logical.StringParam(d, "role_id")
	if err != nil {
		return nil, err
	}
	if id != "" {
		r.RoleID = id
	} else if r.RoleID == "" {
		if r.RoleID, err = newUUID(); err != nil {
			return nil, err
		}
	}
	// Without a secret ID and without any CIDR binding, anyone who learns
	// the role ID could log in: Vault refuses such roles, and so do we.
	if !r.BindSecretID && len(r.SecretIDBoundCIDRs) == 0 && len(r.BoundCIDRs) == 0 {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "at least one constraint must be enabled on the role: bind_secret_id, secret_id_bound_cidrs or token_bound_cidrs")
	}
	if err := e.saveRole(ctx, st, name, r, oldID); err != nil {
		return nil, err
	}
	if w := tokenfields.UnknownWarning(d, roleKeys); w != nil {
		return &logical.Response{Warnings: w}, nil
	}
	return nil, nil
}

// saveRole stores r, moving its role ID index entry if the ID changed from
// oldID. The new index entry is written before the role and the old one
// removed after it; login checks that the role still has the presented
// ID, so an entry left behind by a crash lets nobody in.
func (e *engine) saveRole(ctx context.Context, st storage.Backend, name string, r *role, oldID string) error {
	if r.RoleID != oldID {
		newHMAC, err := e.hmacOf(ctx, st, "role_id", r.RoleID)
		if err != nil {
			return err
		}
		owner, err := roleByID(ctx, st, newHMAC)
		if err != nil {
			return err
		}
		if owner != "" && owner != name {
			other, err := loadRole(ctx, st, owner)
			if err != nil {
				return err
			}
			if other != nil && subtle.ConstantTimeCompare([]byte(other.RoleID), []byte(r.RoleID)) == 1 {
				return logical.Errorf(logical.ErrInvalidRequest, "role_id is already in use by another role")
			}
		}
		if err := putJSON(ctx, st, roleIDPrefix+newHMAC, name); err != nil {
			return err
		}
	}
	if err := putJSON(ctx, st, rolePrefix+name, r); err != nil {
		return err
	}
	if oldID != "" && oldID != r.RoleID {
		oldHMAC, err := e.hmacOf(ctx, st, "role_id", oldID)
		if err != nil {
			return err
		}
		return deleteKey(ctx, st, roleIDPrefix+oldHMAC)
	}
	return nil
}

// deleteRole removes a role and every secret ID issued for it. The secret
// IDs go first, so that a crash midway leaves a role that can be deleted
// again rather than secret IDs that a new role of the same name inherits.
func (e *engine) deleteRole(ctx context.Context, st storage.Backend, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, err := loadRole(ctx, st, name)
	if err != nil || r == nil {
		return err
	}
	for _, prefix := range []string{secretIDPrefix + name + "/", accessorPrefix + name + "/"} {
		keys, err := st.List(ctx, prefix)
		if err != nil {
			return storageErr("listing secret IDs", err)
		}
		for _, k := range keys {
			if err := deleteKey(ctx, st, prefix+k); err != nil {
				return err
			}
		}
	}
	idHMAC, err := e.hmacOf(ctx, st, "role_id", r.RoleID)
	if err != nil {
		return err
	}
	if err := deleteKey(ctx, st, roleIDPrefix+idHMAC); err != nil {
		return err
	}
	return deleteKey(ctx, st, rolePrefix+name)
}

func (e *engine) readRoleID(ctx context.Context, st storage.Backend, name string) (*logical.Response, error) {
	r, err := loadRole(ctx, st, name)
	if err != nil || r == nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]any{"role_id": r.RoleID}}, nil
}

func (e *engine) writeRoleID(ctx context.Context, st storage.Backend, req *logical.Request, name string) (*logical.Response, error) {
	id, err := logical.StringParam(req.Data, "role_id")
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "missing role_id")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	r, err := mustRole(ctx, st, name)
	if err != nil {
		return nil, err
	}
	oldID := r.RoleID
	r.RoleID = id
	return nil, e.saveRole(ctx, st, name, r, oldID)
}
