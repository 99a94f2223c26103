package approle

import (
	"context"
	"encoding/json"
	"time"

	"github.com/arca-secrets/arca/auth/internal/tokenfields"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

// secretIDKeys are the fields secret ID generation understands.
var secretIDKeys = []string{"role_name", "secret_id", "metadata", "cidr_list", "token_bound_cidrs", "num_uses", "ttl"}

// generateSecretID issues a secret ID for a role: a random one, or with
// custom the caller's. Only its HMAC is stored.
func (e *engine) generateSecretID(ctx context.Context, st storage.Backend, req *logical.Request, name string, custom bool) (*logical.Response, error) {
	d := req.Data
	var id string
	if custom {
		var err error
		if id, err = logical.StringParam(d, "secret_id"); err != nil {
			return nil, err
		}
		if id == "" {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "missing secret_id")
		}
	}
	meta, err := metadataParam(d)
	if err != nil {
		return nil, err
	}
	cidrs, err := tokenfields.CIDRListParam(d, "cidr_list")
	if err != nil {
		return nil, err
	}
	tokenCIDRs, err := tokenfields.CIDRListParam(d, "token_bound_cidrs")
	if err != nil {
		return nil, err
	}
	uses, usesSet, err := logical.IntParam(d, "num_uses")
	if err != nil {
		return nil, err
	}
	ttl, ttlSet, err := logical.DurationParam(d, "ttl")
	if err != nil {
		return nil, err
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	r, err := mustRole(ctx, st, name)
	if err != nil {
		return nil, err
	}
	if !r.BindSecretID {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "bind_secret_id is not set on the role")
	}
	if !tokenfields.Subset(cidrs, r.SecretIDBoundCIDRs) {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "cidr_list must be a subset of the role's secret_id_bound_cidrs")
	}
	if !tokenfields.Subset(tokenCIDRs, r.BoundCIDRs) {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "token_bound_cidrs must be a subset of the role's token_bound_cidrs")
	}
	// A secret ID may narrow the role's limits, never widen them (zero
	// means unlimited, so it widens any limit).
	if !usesSet {
		uses = r.SecretIDNumUses
	} else if r.SecretIDNumUses > 0 && (uses == 0 || uses > r.SecretIDNumUses) {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "num_uses cannot be higher than the role's secret_id_num_uses")
	}
	ttlSecs := int64(ttl / time.Second)
	if !ttlSet {
		ttlSecs = r.SecretIDTTL
	} else if r.SecretIDTTL > 0 && (ttlSecs == 0 || ttlSecs > r.SecretIDTTL) {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "ttl cannot be longer than the role's secret_id_ttl")
	}

	if !custom {
		if id, err = newUUID(); err != nil {
			return nil, err
		}
	}
	idHMAC, err := e.hmacOf(ctx, st, "secret_id", id)
	if err != nil {
		return nil, err
	}
	if old, err := loadSecret(ctx, st, name, idHMAC); err != nil {
		return nil, err
	} else if old != nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "this secret ID is already registered on the role")
	}
	accessor, err := newUUID()
	if err != nil {
		return nil, err
	}
	now := e.now().UTC()
	s := &secretID{
		Accessor: accessor, CIDRList: cidrs, TokenBoundCIDRs: tokenCIDRs, Metadata: meta,
		NumUses: uses, TTL: ttlSecs, CreationTime: now, LastUpdated: now,
	}
	if ttlSecs > 0 {
		s.ExpirationTime = now.Add(time.Duration(ttlSecs) * time.Second)
	}
	// The accessor is written first: if a crash comes between the two
	// writes, an accessor that names nothing is harmless.
	if err := putJSON(ctx, st, accessorKey(name, accessor), accessorEntry{SecretIDHMAC: idHMAC}); err != nil {
		return nil, err
	}
	if err := putJSON(ctx, st, secretKey(name, idHMAC), s); err != nil {
		return nil, err
	}
	return &logical.Response{
		Data: map[string]any{
			"secret_id":          id,
			"secret_id_accessor": accessor,
			"secret_id_ttl":      ttlSecs,
			"secret_id_num_uses": uses,
		},
		Warnings: tokenfields.UnknownWarning(d, secretIDKeys),
	}, nil
}

// metadataParam reads "metadata": an object of strings, or (as Vault's
// clients send it) a string holding one in JSON.
func metadataParam(d map[string]any) (map[string]string, error) {
	s, isString := d["metadata"].(string)
	if !isString {
		return logical.StringMapParam(d, "metadata")
	}
	if s == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "metadata must be a JSON object of strings")
	}
	return m, nil
}

func (e *engine) listAccessors(ctx context.Context, st storage.Backend, name string) (*logical.Response, error) {
	if _, err := mustRole(ctx, st, name); err != nil {
		return nil, err
	}
	return listKeys(ctx, st, accessorPrefix+name+"/")
}

// resolve finds the HMAC and accessor of the secret ID a lookup or
// destroy names, by the secret ID itself or by its accessor. s is nil
// when there is no such secret ID; accessor is still set when the lookup
// was by an accessor whose secret ID is gone.
func (e *engine) resolve(ctx context.Context, st storage.Backend, d map[string]any, name string, byAccessor bool) (idHMAC, accessor string, s *secretID, err error) {
	if byAccessor {
		if accessor, err = logical.StringParam(d, "secret_id_accessor"); err != nil {
			return "", "", nil, err
		}
		if accessor == "" {
			return "", "", nil, logical.Errorf(logical.ErrInvalidRequest, "missing secret_id_accessor")
		}
		var a accessorEntry
		found, err := getJSON(ctx, st, accessorKey(name, accessor), &a)
		if err != nil || !found {
			return "", "", nil, err
		}
		idHMAC = a.SecretIDHMAC
	} else {
		id, err := logical.StringParam(d, "secret_id")
		if err != nil {
			return "", "", nil, err
		}
		if id == "" {
			return "", "", nil, logical.Errorf(logical.ErrInvalidRequest, "missing secret_id")
		}
		if idHMAC, err = e.hmacOf(ctx, st, "secret_id", id); err != nil {
			return "", "", nil, err
		}
	}
	if s, err = loadSecret(ctx, st, name, idHMAC); err != nil {
		return "", "", nil, err
	}
	if s != nil {
		accessor = s.Accessor
	}
	return idHMAC, accessor, s, nil
}

// lookupSecretID answers a secret ID's properties (never the secret ID),
// or nothing when it does not exist or has expired (it is then removed).
func (e *engine) lookupSecretID(ctx context.Context, st storage.Backend, req *logical.Request, name string, byAccessor bool) (*logical.Response, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := mustRole(ctx, st, name); err != nil {
		return nil, err
	}
	idHMAC, accessor, s, err := e.resolve(ctx, st, req.Data, name, byAccessor)
	if err != nil || s == nil {
		return nil, err
	}
	if s.expired(e.now()) {
		return nil, deleteSecret(ctx, st, name, idHMAC, accessor)
	}
	meta := s.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	return &logical.Response{Data: map[string]any{
		"secret_id_accessor": s.Accessor,
		"cidr_list":          logical.NonNil(s.CIDRList),
		"token_bound_cidrs":  logical.NonNil(s.TokenBoundCIDRs),
		"metadata":           meta,
		"secret_id_num_uses": s.NumUses,
		"secret_id_ttl":      s.TTL,
		"creation_time":      s.CreationTime,
		"expiration_time":    s.ExpirationTime,
		"last_updated_time":  s.LastUpdated,
	}}, nil
}

// destroySecretID removes a secret ID; destroying one that does not exist
// is not an error.
func (e *engine) destroySecretID(ctx context.Context, st storage.Backend, req *logical.Request, name string, byAccessor bool) (*logical.Response, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := mustRole(ctx, st, name); err != nil {
		return nil, err
	}
	idHMAC, accessor, s, err := e.resolve(ctx, st, req.Data, name, byAccessor)
	if err != nil {
		return nil, err
	}
	if s == nil {
		if accessor != "" {
			// An accessor whose secret ID is gone (left by a crash).
			return nil, deleteKey(ctx, st, accessorKey(name, accessor))
		}
		return nil, nil
	}
	return nil, deleteSecret(ctx, st, name, idHMAC, accessor)
}
