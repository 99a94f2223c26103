package core

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/arca-secrets/arca/audit"
	"github.com/arca-secrets/arca/lease"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/token"
)

func clearViewData(ctx context.Context, m *mount) error {
	return storage.ClearView(ctx, m.view)
}

// Result is an engine's response and, after a login, the token core
// issued for it.
type Result struct {
	Response *logical.Response
	Issued   *token.Entry
	// Lease is the lease registered for a dynamic secret in Response.
	Lease *lease.Lease
}

// HandleRequest checks the token and the policy, then routes req (whose
// Path is the full path after /v1/, such as "secret/data/app") to the
// engine mounted there. Login paths of auth methods need no token.
func (c *Core) HandleRequest(ctx context.Context, tokenID string, req *logical.Request) (*Result, error) {
	ctx = WithWrapTTL(ctx, req.WrapTTL)
	c.stateLock.RLock()
	defer c.stateLock.RUnlock()
	if c.sealed {
		return nil, ErrSealed
	}
	m := c.router.match(req.Path)
	r := *req
	if r.Data == nil {
		r.Data = map[string]any{}
	}
	if m != nil {
		r.Path = strings.TrimPrefix(strings.TrimPrefix(req.Path, m.entry.Path), strings.TrimSuffix(m.entry.Path, "/"))
		r.Storage = m.view
		r.MountPoint = m.entry.Path
		r.MountDefaultTTL = time.Duration(m.entry.Config.DefaultLeaseTTL) * time.Second
		r.MountMaxTTL = time.Duration(m.entry.Config.MaxLeaseTTL) * time.Second
	}
	reqID, err := randomID()
	if err != nil {
		return nil, err
	}
	var caller *Caller
	var ar *audit.Request
	if m == nil || !m.isLoginPath(r.Path) {
		te, err := c.lookupToken(ctx, tokenID)
		if err != nil {
			c.logRefusal(ctx, nil, auditRequest(reqID, string(req.Operation), req, m), err)
			return nil, err
		}
		r.DisplayName = te.DisplayName
		if m != nil && m.entry.Type == cubbyholeType && te.Type == "batch" {
			return nil, fmt.Errorf("%w: batch tokens have no cubbyhole", ErrInvalidRequest)
		}
		if m != nil && m.entry.Type == cubbyholeType {
			// The token decides which cubbyhole the request sees, before
			// the existence check looks into it.
			r.Storage = c.cubbyholeView(te)
		}
		op, err := c.policyOperation(ctx, m, &r)
		if err != nil {
			return nil, err
		}
		ar = auditRequest(reqID, op, req, m)
		if caller, err = c.authorizeEntry(ctx, te, req.Path, op, r.Data, req.ClientAddr); err != nil {
			c.logRefusal(ctx, te, ar, err)
			return nil, err
		}
	} else {
		ar = auditRequest(reqID, string(req.Operation), req, m)
	}
	var te *token.Entry
	if caller != nil {
		te = caller.Token
	}
	if err := c.logRequest(ctx, te, ar); err != nil {
		return nil, err
	}
	res, err := c.route(ctx, caller, m, &r, req.Path)
	// What the engine did stands even if the client has gone: the answer
	// is audited, and whatever it issued is revoked if it cannot be.
	ctx = context.WithoutCancel(ctx)
	if aerr := c.logResponse(ctx, te, ar, res, err); aerr != nil {
		if res != nil {
			c.revokeUnrecorded(ctx, res.Issued)
			c.revokeUnrecordedLease(ctx, res.Lease)
		}
		return nil, aerr
	}
	return res, err
}

// route hands the request to its engine (or core's token API) and turns a
// login's Auth into a token.
func (c *Core) route(ctx context.Context, caller *Caller, m *mount, r *logical.Request, fullPath string) (*Result, error) {
	if m == nil {
		return nil, ErrNoMount
	}
	if m.entry.Type == tokenMountType {
		return c.handleTokenAPI(ctx, caller, m, r)
	}
	resp, err := m.engine.HandleRequest(ctx, r)
	if err != nil {
		return nil, err
	}
	// The engine has acted (a database user may exist now): a client that
	// hangs up from here on must not stop its token or lease from being
	// recorded, or the secret would outlive every way to revoke it.
	ctx = context.WithoutCancel(ctx)
	res := &Result{Response: resp}
	if resp != nil && resp.Auth != nil {
		loginPath := fullPath
		if lp := resp.Auth.LeasePath; lp != "" {
			if strings.Contains(lp, "..") || strings.HasPrefix(lp, "/") {
				return nil, fmt.Errorf("auth method %s gave an invalid lease path", m.entry.Path)
			}
			loginPath = m.entry.Path + lp
		}
		if res.Issued, err = c.issueToken(ctx, m, resp.Auth, loginPath); err != nil {
			return nil, err
		}
		if err := c.leaseLoginToken(ctx, res.Issued, loginPath); err != nil {
			c.revokeUnrecorded(ctx, res.Issued)
			return nil, err
		}
		resp.Auth = nil
	}
	if resp != nil && resp.Secret != nil {
		if res.Lease, err = c.leaseSecret(ctx, caller, m, resp.Secret, fullPath); err != nil {
			return nil, err
		}
		resp.Secret = nil
	}
	return res, nil
}

// policyOperation is the operation the ACL checks: a write is "create"
// when the engine says the target does not exist yet, else "update".
func (c *Core) policyOperation(ctx context.Context, m *mount, r *logical.Request) (string, error) {
	if r.Operation != logical.UpdateOperation && r.Operation != logical.CreateOperation {
		return string(r.Operation), nil
	}
	if m == nil || m.engine == nil {
		return string(logical.UpdateOperation), nil
	}
	ec, ok := m.engine.(logical.ExistenceChecker)
	if !ok {
		return string(logical.UpdateOperation), nil
	}
	exists, err := ec.Exists(ctx, r)
	if err != nil {
		return "", err
	}
	if exists {
		return string(logical.UpdateOperation), nil
	}
	return string(logical.CreateOperation), nil
}

func (m *mount) isLoginPath(rel string) bool {
	lp, ok := m.engine.(logical.LoginPaths)
	if !ok {
		return false
	}
	for _, p := range lp.LoginPaths() {
		if prefix, glob := strings.CutSuffix(p, "*"); glob && strings.HasPrefix(rel, prefix) || p == rel {
			return true
		}
	}
	return false
}

// issueToken turns a login's Auth into a token.
func (c *Core) issueToken(ctx context.Context, m *mount, a *logical.Auth, path string) (*token.Entry, error) {
	if slices.Contains(a.Policies, "root") {
		return nil, fmt.Errorf("%w: a login cannot grant the root policy", ErrPermissionDenied)
	}
	create := c.tokens.Create
	switch a.TokenType {
	case "", "service", "default", "default-service":
	case "batch", "default-batch":
		create = c.tokens.CreateBatch
	default:
		return nil, fmt.Errorf("%w: token type %q is not supported", ErrInvalidRequest, a.TokenType)
	}
	policies := slices.Clone(a.Policies)
	if !a.NoDefaultPolicy {
		policies = append(policies, "default")
	}
	name := strings.TrimSuffix(strings.TrimPrefix(m.entry.Path, "auth/"), "/")
	if a.DisplayName != "" {
		name += "-" + a.DisplayName
	}
	return create(ctx, token.CreateRequest{
		Policies:        policies,
		TTL:             a.TTL,
		ExplicitMaxTTL:  a.MaxTTL,
		Period:          a.Period,
		MountDefaultTTL: time.Duration(m.entry.Config.DefaultLeaseTTL) * time.Second,
		MountMaxTTL:     time.Duration(m.entry.Config.MaxLeaseTTL) * time.Second,
		NumUses:         a.NumUses,
		Renewable:       a.Renewable,
		DisplayName:     name,
		Path:            path,
		Meta:            a.Metadata,
		BoundCIDRs:      a.BoundCIDRs,
		MountAccessor:   m.entry.Accessor,
		InternalData:    a.InternalData,
	})
}
