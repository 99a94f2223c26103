// Package tokenauth is the built-in token auth method, mounted at
// auth/token/: create (with roles), lookup, renew and revoke tokens, and
// the token roles. It works on the token store it is given and on a
// small, read-only view of who is calling; core authorises every request
// before it arrives here and turns what it issues into an answer.
package tokenauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/token"
)

// Config is what the engine is built from.
type Config struct {
	// Store is the token store the engine creates, renews and revokes in.
	Store *token.Store
	// Roles is the token roles' storage.
	Roles storage.Backend
	// LoginStillValid asks the auth method that issued a token whether
	// the login behind it still holds, before a renewal.
	LoginStillValid func(ctx context.Context, te *token.Entry) error
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives operational messages; discarded when nil.
	Logger *slog.Logger
}

// Engine answers auth/token/*.
type Engine struct {
	store           *token.Store
	roles           storage.Backend
	loginStillValid func(ctx context.Context, te *token.Entry) error
	now             func() time.Time
	log             *slog.Logger
}

// New returns the engine over cfg's store.
func New(cfg Config) *Engine {
	now, log := cfg.Now, cfg.Logger
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	valid := cfg.LoginStillValid
	if valid == nil {
		valid = func(context.Context, *token.Entry) error { return nil }
	}
	return &Engine{store: cfg.Store, roles: cfg.Roles, loginStillValid: valid, now: now, log: log}
}

// Caller is what the engine may know of who is calling.
type Caller struct {
	// Token is the caller's token entry (read only).
	Token *token.Entry
	// Privileged: the caller is root or holds sudo on auth/token/create,
	// which setting an ID, a period or no parent needs.
	Privileged bool
}

// Result is an answer and, for create and renew, the token it issued.
type Result struct {
	Response *logical.Response
	Issued   *token.Entry
}

// Handle answers a request for auth/token/* (r.Path relative to the
// mount) from caller, who has passed the ACL for the path already.
func (e *Engine) Handle(ctx context.Context, caller Caller, r *logical.Request) (*Result, error) {
	m := r
	path := strings.Trim(r.Path, "/")
	op := r.Operation
	write := op == logical.UpdateOperation || op == logical.CreateOperation
	switch {
	case path == "create" && write:
		return e.tokenCreate(ctx, caller, r.Data, false, m, nil)
	case path == "create-orphan" && write:
		return e.tokenCreate(ctx, caller, r.Data, true, m, nil)
	case strings.HasPrefix(path, "create/") && write:
		role, err := e.loadTokenRole(ctx, strings.TrimPrefix(path, "create/"))
		if err != nil {
			return nil, err
		}
		if role == nil {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "unknown role %s", strings.TrimPrefix(path, "create/"))
		}
		return e.tokenCreate(ctx, caller, r.Data, role.Orphan, m, role)
	case path == "roles" || strings.HasPrefix(path, "roles/"):
		return e.handleTokenRoles(ctx, strings.TrimPrefix(strings.TrimPrefix(path, "roles"), "/"), r)
	case path == "lookup-self" && (op == logical.ReadOperation || write):
		return tokenData(caller.Token, caller.Token.ID, e.now()), nil
	case path == "lookup" && (write || op == logical.ReadOperation):
		te, err := e.tokenParam(ctx, r.Data)
		if err != nil {
			return nil, err
		}
		return tokenData(te, te.ID, e.now()), nil
	case path == "lookup-accessor" && write:
		te, err := e.accessorParam(ctx, r.Data)
		if err != nil {
			return nil, err
		}
		return tokenData(te, "", e.now()), nil
	case path == "renew-self" && write:
		return e.tokenRenew(ctx, caller.Token, r.Data)
	case path == "renew" && write:
		te, err := e.tokenParam(ctx, r.Data)
		if err != nil {
			return nil, err
		}
		return e.tokenRenew(ctx, te, r.Data)
	case path == "renew-accessor" && write:
		te, err := e.accessorParam(ctx, r.Data)
		if err != nil {
			return nil, err
		}
		return e.tokenRenew(ctx, te, r.Data)
	case path == "revoke-self" && write:
		return nil, tokenErr(e.store.Revoke(ctx, caller.Token))
	case (path == "revoke" || path == "revoke-orphan") && write:
		te, err := e.tokenParam(ctx, r.Data)
		if err != nil {
			return nil, err
		}
		if path == "revoke-orphan" {
			return nil, tokenErr(e.store.RevokeOrphan(ctx, te))
		}
		return nil, tokenErr(e.store.Revoke(ctx, te))
	case path == "revoke-accessor" && write:
		te, err := e.accessorParam(ctx, r.Data)
		if err != nil {
			return nil, err
		}
		return nil, tokenErr(e.store.Revoke(ctx, te))
	case path == "accessors" && op == logical.ListOperation:
		keys, err := e.store.Accessors(ctx)
		if err != nil {
			return nil, err
		}
		return &Result{Response: &logical.Response{Data: map[string]any{"keys": keys}}}, nil
	case path == "tidy" && write:
		n, err := e.store.Tidy(ctx)
		if err != nil {
			return nil, err
		}
		e.log.Info("token tidy", "removed", n)
		return &Result{Response: &logical.Response{Warnings: []string{fmt.Sprintf("tidy removed %d expired tokens", n)}}}, nil
	}
	switch path {
	case "create", "create-orphan", "roles", "lookup", "lookup-self", "lookup-accessor", "renew", "renew-self",
		"renew-accessor", "revoke", "revoke-self", "revoke-orphan", "revoke-accessor", "accessors", "tidy":
		return nil, logical.Errorf(logical.ErrUnsupportedOperation, "unsupported operation %s on auth/token/%s", op, path)
	}
	return nil, logical.Errorf(logical.ErrUnsupportedPath, "unsupported path auth/token/%s", path)
}

func (e *Engine) tokenParam(ctx context.Context, data map[string]any) (*token.Entry, error) {
	id, _ := data["token"].(string)
	if id == "" {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "missing token")
	}
	te, err := e.store.Lookup(ctx, id)
	if err != nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "bad token")
	}
	return te, nil
}

func (e *Engine) accessorParam(ctx context.Context, data map[string]any) (*token.Entry, error) {
	acc, _ := data["accessor"].(string)
	if acc == "" {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "missing accessor")
	}
	te, err := e.store.LookupAccessor(ctx, acc)
	if err != nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "invalid accessor")
	}
	return te, nil
}

func (e *Engine) tokenRenew(ctx context.Context, te *token.Entry, data map[string]any) (*Result, error) {
	inc, _, err := logical.DurationParam(data, "increment")
	if err != nil {
		return nil, err
	}
	if err := e.loginStillValid(ctx, te); err != nil {
		return nil, err
	}
	renewed, err := e.store.Renew(ctx, te, inc)
	if err != nil {
		// The store's refusals are the client's; a storage failure stays
		// an internal error, its text in the log only.
		return nil, tokenErr(err)
	}
	return &Result{Response: &logical.Response{}, Issued: renewed}, nil
}

// tokenCreate creates a child (or orphan) token. A non-root creator can
// only hand out a subset of its own policies; only root or a sudo holder
// may create orphans through create, choose the ID, or set a period.
func (e *Engine) tokenCreate(ctx context.Context, caller Caller, data map[string]any, orphan bool, m *logical.Request, role *tokenRole) (*Result, error) {
	parent := caller.Token
	privileged := parent.IsRoot() || caller.Privileged
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
		MountDefaultTTL: m.MountDefaultTTL,
		MountMaxTTL:     m.MountMaxTTL,
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
	create := e.store.Create
	if p.tokenType == "batch" {
		req.Renewable = false
		create = e.store.CreateBatch
	}
	issued, err := create(ctx, req)
	if err != nil {
		return nil, tokenErr(err)
	}
	return &Result{Response: &logical.Response{}, Issued: issued}, nil
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
