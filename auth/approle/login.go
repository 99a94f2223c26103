package approle

import (
	"context"
	"crypto/subtle"
	"maps"

	"github.com/arca-secrets/arca/auth/internal/tokenfields"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

// login checks a role ID and secret ID and answers with the Auth core
// makes a token from. Every failure gives errInvalidCredentials.
func (e *engine) login(ctx context.Context, st storage.Backend, req *logical.Request) (*logical.Response, error) {
	roleID, err := logical.StringParam(req.Data, "role_id")
	if err != nil {
		return nil, err
	}
	if roleID == "" {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "missing role_id")
	}
	secret, err := logical.StringParam(req.Data, "secret_id")
	if err != nil {
		return nil, err
	}
	idHMAC, err := e.hmacOf(ctx, st, "role_id", roleID)
	if err != nil {
		return nil, err
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	name, err := roleByID(ctx, st, idHMAC)
	if err != nil || name == "" {
		return nil, orInvalid(err)
	}
	r, err := loadRole(ctx, st, name)
	if err != nil || r == nil {
		return nil, orInvalid(err)
	}
	// The index may be stale (a crash while the role ID changed): the
	// role must still have the presented ID.
	if subtle.ConstantTimeCompare([]byte(r.RoleID), []byte(roleID)) != 1 {
		return nil, errInvalidCredentials
	}
	if !tokenfields.AddrAllowed(r.SecretIDBoundCIDRs, req.ClientAddr) {
		return nil, errInvalidCredentials
	}
	auth := r.Auth()
	auth.DisplayName = name
	auth.Metadata = map[string]string{}
	if r.BindSecretID {
		s, err := e.useSecretID(ctx, st, req, name, secret)
		if err != nil {
			return nil, err
		}
		maps.Copy(auth.Metadata, s.Metadata)
		if len(s.TokenBoundCIDRs) > 0 {
			auth.BoundCIDRs = s.TokenBoundCIDRs
		}
		auth.InternalData = map[string]string{"secret_id_accessor": s.Accessor}
	}
	auth.Metadata["role_name"] = name
	if auth.InternalData == nil {
		auth.InternalData = map[string]string{}
	}
	auth.InternalData["role_name"] = name
	auth.InternalData["role_id"] = r.RoleID
	return &logical.Response{Auth: auth}, nil
}

// useSecretID checks a secret ID against its role and counts one use:
// it must exist, not have expired (an expired one is removed), and the
// client must be inside its cidr_list. The last use removes it. The
// caller holds e.mu, so uses are counted exactly.
func (e *engine) useSecretID(ctx context.Context, st storage.Backend, req *logical.Request, name, secret string) (*secretID, error) {
	if secret == "" {
		return nil, errInvalidCredentials
	}
	idHMAC, err := e.hmacOf(ctx, st, "secret_id", secret)
	if err != nil {
		return nil, err
	}
	s, err := loadSecret(ctx, st, name, idHMAC)
	if err != nil || s == nil {
		return nil, orInvalid(err)
	}
	now := e.now().UTC()
	if s.expired(now) {
		if err := deleteSecret(ctx, st, name, idHMAC, s.Accessor); err != nil {
			return nil, err
		}
		return nil, errInvalidCredentials
	}
	if !tokenfields.AddrAllowed(s.CIDRList, req.ClientAddr) {
		return nil, errInvalidCredentials
	}
	switch {
	case s.NumUses == 1:
		err = deleteSecret(ctx, st, name, idHMAC, s.Accessor)
	case s.NumUses > 1:
		s.NumUses--
		s.LastUpdated = now
		err = putJSON(ctx, st, secretKey(name, idHMAC), s)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// orInvalid keeps a storage failure as it is and turns "not found" into
// the uniform login failure.
func orInvalid(err error) error {
	if err != nil {
		return err
	}
	return errInvalidCredentials
}

// RenewAuth refuses to renew a token whose role was deleted or whose role
// ID changed since login, and otherwise renews it with the role's current
// TTLs.
func (e *engine) RenewAuth(ctx context.Context, req *logical.Request, auth *logical.Auth) (*logical.Auth, error) {
	name := auth.InternalData["role_name"]
	if name == "" {
		return nil, logical.Errorf(logical.ErrPermissionDenied, "renewal refused: the token names no role")
	}
	r, err := loadRole(ctx, e.backend(req), name)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, logical.Errorf(logical.ErrPermissionDenied, "renewal refused: the role no longer exists")
	}
	if subtle.ConstantTimeCompare([]byte(r.RoleID), []byte(auth.InternalData["role_id"])) != 1 {
		return nil, logical.Errorf(logical.ErrPermissionDenied, "renewal refused: the role's role ID has changed")
	}
	current := r.Auth()
	renewed := *auth
	renewed.TTL, renewed.MaxTTL, renewed.Period = current.TTL, current.MaxTTL, current.Period
	return &renewed, nil
}
