package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/token"
)

// handleTokenAPI answers auth/token/*, the built-in token auth method. The
// caller has passed the ACL for the path already.
func (c *Core) handleTokenAPI(ctx context.Context, st *unsealed, caller *Caller, m *mount, r *logical.Request) (*Result, error) {
	path := strings.Trim(r.Path, "/")
	op := r.Operation
	write := op == logical.UpdateOperation || op == logical.CreateOperation
	switch {
	case path == "create" && write:
		return c.tokenCreate(ctx, st, caller, r.Data, false, m, nil)
	case path == "create-orphan" && write:
		return c.tokenCreate(ctx, st, caller, r.Data, true, m, nil)
	case strings.HasPrefix(path, "create/") && write:
		role, err := c.loadTokenRole(ctx, strings.TrimPrefix(path, "create/"))
		if err != nil {
			return nil, err
		}
		if role == nil {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "unknown role %s", strings.TrimPrefix(path, "create/"))
		}
		return c.tokenCreate(ctx, st, caller, r.Data, role.Orphan, m, role)
	case path == "roles" || strings.HasPrefix(path, "roles/"):
		return c.handleTokenRoles(ctx, st, strings.TrimPrefix(strings.TrimPrefix(path, "roles"), "/"), r)
	case path == "lookup-self" && (op == logical.ReadOperation || write):
		return tokenData(caller.Token, caller.Token.ID, c.now()), nil
	case path == "lookup" && (write || op == logical.ReadOperation):
		te, err := c.tokenParam(ctx, st, r.Data)
		if err != nil {
			return nil, err
		}
		return tokenData(te, te.ID, c.now()), nil
	case path == "lookup-accessor" && write:
		te, err := c.accessorParam(ctx, st, r.Data)
		if err != nil {
			return nil, err
		}
		return tokenData(te, "", c.now()), nil
	case path == "renew-self" && write:
		return c.tokenRenew(ctx, st, caller.Token, r.Data)
	case path == "renew" && write:
		te, err := c.tokenParam(ctx, st, r.Data)
		if err != nil {
			return nil, err
		}
		return c.tokenRenew(ctx, st, te, r.Data)
	case path == "renew-accessor" && write:
		te, err := c.accessorParam(ctx, st, r.Data)
		if err != nil {
			return nil, err
		}
		return c.tokenRenew(ctx, st, te, r.Data)
	case path == "revoke-self" && write:
		return nil, tokenErr(st.tokens.Revoke(ctx, caller.Token))
	case (path == "revoke" || path == "revoke-orphan") && write:
		te, err := c.tokenParam(ctx, st, r.Data)
		if err != nil {
			return nil, err
		}
		if path == "revoke-orphan" {
			return nil, tokenErr(st.tokens.RevokeOrphan(ctx, te))
		}
		return nil, tokenErr(st.tokens.Revoke(ctx, te))
	case path == "revoke-accessor" && write:
		te, err := c.accessorParam(ctx, st, r.Data)
		if err != nil {
			return nil, err
		}
		return nil, tokenErr(st.tokens.Revoke(ctx, te))
	case path == "accessors" && op == logical.ListOperation:
		keys, err := st.tokens.Accessors(ctx)
		if err != nil {
			return nil, err
		}
		return &Result{Response: &logical.Response{Data: map[string]any{"keys": keys}}}, nil
	case path == "tidy" && write:
		n, err := st.tokens.Tidy(ctx)
		if err != nil {
			return nil, err
		}
		c.log.Info("token tidy", "removed", n)
		return &Result{Response: &logical.Response{Warnings: []string{fmt.Sprintf("tidy removed %d expired tokens", n)}}}, nil
	}
	switch path {
	case "create", "create-orphan", "roles", "lookup", "lookup-self", "lookup-accessor", "renew", "renew-self",
		"renew-accessor", "revoke", "revoke-self", "revoke-orphan", "revoke-accessor", "accessors", "tidy":
		return nil, logical.Errorf(logical.ErrUnsupportedOperation, "unsupported operation %s on auth/token/%s", op, path)
	}
	return nil, logical.Errorf(logical.ErrUnsupportedPath, "unsupported path auth/token/%s", path)
}

func (c *Core) tokenParam(ctx context.Context, st *unsealed, data map[string]any) (*token.Entry, error) {
	id, _ := data["token"].(string)
	if id == "" {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "missing token")
	}
	te, err := st.tokens.Lookup(ctx, id)
	if err != nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "bad token")
	}
	return te, nil
}

func (c *Core) accessorParam(ctx context.Context, st *unsealed, data map[string]any) (*token.Entry, error) {
	acc, _ := data["accessor"].(string)
	if acc == "" {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "missing accessor")
	}
	te, err := st.tokens.LookupAccessor(ctx, acc)
	if err != nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "invalid accessor")
	}
	return te, nil
}

func (c *Core) tokenRenew(ctx context.Context, st *unsealed, te *token.Entry, data map[string]any) (*Result, error) {
	inc, _, err := logical.DurationParam(data, "increment")
	if err != nil {
		return nil, err
	}
	if err := c.checkLoginStillValid(ctx, st, te); err != nil {
		return nil, err
	}
	renewed, err := st.tokens.Renew(ctx, te, inc)
	if err != nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "%v", err)
	}
	return &Result{Response: &logical.Response{}, Issued: renewed}, nil
}

// tokenCreate creates a child (or orphan) token. A non-root creator can
// only hand out a subset of its own policies; only root or a sudo holder
// may create orphans through create, choose the ID, or set a period.
func (c *Core) tokenCreate(ctx context.Context, st *unsealed, caller *Caller, data map[string]any, orphan bool, m *mount, role *tokenRole) (*Result, error) {
	parent := caller.Token
	privileged := parent.IsRoot() || caller.ACL.Check("auth/token/create", "update", nil).Sudo
	p, err := parseCreateParams(data)
	if err != nil {
		return nil, err
	}
	var rolePolicies []string
	if role != nil {
		if rolePolicies, err = applyRole(role, p); err != nil {
			return nil, err
		}
	}
	switch p.tokenType {
	case "", "service", "default", "batch":
	default:
		return nil, logical.Errorf(logical.ErrInvalidRequest, "token type %q is unknown: use service or batch", p.tokenType)
	}
	if (p.noParent || p.id != "" || (p.period > 0 && role == nil)) && !privileged {
		return nil, logical.Errorf(logical.ErrPermissionDenied, "root or sudo privileges are required to set no_parent, id or period")
	}
	policies := p.policies
	if role != nil {
		policies = rolePolicies
	} else if len(policies) == 0 {
		policies = slices.DeleteFunc(slices.Clone(parent.Policies), func(s string) bool { return s == "default" })
	}
	// A role with allowed_policies decides the policies itself; without
	// a role, or with a role that allows no list (as in Vault), a child
	// gets a subset of its parent's.
	if !parent.IsRoot() && (role == nil || len(role.AllowedPolicies) == 0) {
		for _, pol := range policies {
			if pol != "default" && !slices.Contains(parent.Policies, pol) {
				return nil, logical.Errorf(logical.ErrPermissionDenied, "child policies must be a subset of the parent's: %q is not held by the creating token", pol)
			}
		}
	}
	if slices.Contains(policies, "root") {
		policies = []string{"root"}
	} else if !p.noDefaultPolicy && !slices.Contains(policies, "default") {
		policies = append(policies, "default")
	}
	req := token.CreateRequest{
		ID:              p.id,
		Parent:          parent,
		Policies:        policies,
		TTL:             p.ttl,
		ExplicitMaxTTL:  p.explicitMaxTTL,
		Period:          p.period,
		NumUses:         p.numUses,
		Renewable:       p.renewable,
		DisplayName:     "token",
		Path:            "auth/token/create",
		Meta:            p.meta,
		MountDefaultTTL: time.Duration(m.entry.Config.DefaultLeaseTTL) * time.Second,
		MountMaxTTL:     time.Duration(m.entry.Config.MaxLeaseTTL) * time.Second,
	}
	if p.displayName != "" {
		req.DisplayName = "token-" + p.displayName
	}
	if role != nil {
		req.Path = "auth/token/create/" + role.Name
		req.Role = role.Name
		req.BoundCIDRs = role.BoundCIDRs
		if role.PathSuffix != "" {
			req.Path += "/" + role.PathSuffix
		}
	}
	if orphan || p.noParent {
		req.Parent = nil
		if role == nil {
			req.Path = "auth/token/create-orphan"
		}
	}
	if slices.Contains(policies, "root") && !parent.IsRoot() {
		return nil, logical.Errorf(logical.ErrPermissionDenied, "only a root token can create root tokens")
	}
	create := st.tokens.Create
	if p.tokenType == "batch" {
		req.Renewable = false
		create = st.tokens.CreateBatch
	}
	e, err := create(ctx, req)
	if err != nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "%v", err)
	}
	return &Result{Response: &logical.Response{}, Issued: e}, nil
}

// tokenData is the lookup answer, in Vault's shape.
func tokenData(e *token.Entry, id string, now time.Time) *Result {
	var expire any
	if !e.ExpireTime.IsZero() {
		expire = e.ExpireTime.UTC().Format(time.RFC3339Nano)
	}
	meta := any(nil)
	if len(e.Meta) > 0 {
		meta = e.Meta
	}
	return &Result{Response: &logical.Response{Data: map[string]any{
		"id":               id,
		"accessor":         e.Accessor,
		"policies":         e.Policies,
		"path":             e.Path,
		"display_name":     e.DisplayName,
		"meta":             meta,
		"num_uses":         e.NumUses,
		"orphan":           e.Orphan,
		"renewable":        e.Renewable,
		"creation_time":    e.CreationTime.Unix(),
		"creation_ttl":     int64(e.TTL / time.Second),
		"explicit_max_ttl": int64(e.ExplicitMaxTTL / time.Second),
		"period":           int64(e.Period / time.Second),
		"expire_time":      expire,
		"issue_time":       e.CreationTime.UTC().Format(time.RFC3339Nano),
		"ttl":              int64(e.Remaining(now) / time.Second),
		"type":             e.Type,
		"entity_id":        "",
		"bound_cidrs":      e.BoundCIDRs,
	}}}
}

// tokenErr turns the token store's refusals into client errors.
func tokenErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, token.ErrInvalid), errors.Is(err, token.ErrNotRenewable), errors.Is(err, token.ErrNotFound):
		return logical.Errorf(logical.ErrInvalidRequest, "%v", err)
	}
	return err
}

// checkLoginStillValid asks the auth method that issued te, if it can,
// whether the login behind it still holds (the user still exists).
func (c *Core) checkLoginStillValid(ctx context.Context, st *unsealed, te *token.Entry) error {
	if te.MountAccessor == "" {
		return nil
	}
	st.router.mu.RLock()
	var m *mount
	for _, cand := range st.router.mounts {
		if cand.entry.Accessor == te.MountAccessor {
			m = cand
		}
	}
	st.router.mu.RUnlock()
	if m == nil {
		return logical.Errorf(logical.ErrPermissionDenied, "the auth method that issued this token is gone")
	}
	rn, ok := m.engine.(logical.Renewer)
	if !ok {
		return nil
	}
	_, err := rn.RenewAuth(ctx, &logical.Request{Operation: logical.UpdateOperation, Storage: m.view, MountPoint: m.entry.Path},
		&logical.Auth{Policies: te.Policies, InternalData: te.InternalData, Metadata: te.Meta})
	return err
}
