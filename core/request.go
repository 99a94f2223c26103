package core

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/arca-secrets/arca/auth/tokenauth"
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

// route hands the request to its engine (or core's token API) and turns a
// login's Auth into a token.
func (c *Core) route(ctx context.Context, st *unsealed, caller *Caller, m *mount, r *logical.Request, fullPath string) (*Result, error) {
	if m == nil {
		return nil, ErrNoMount
	}
	if m.entry.Type == tokenMountType {
		privileged := caller.Token.IsRoot() || caller.ACL.Check("auth/token/create", "update", nil).Sudo
		res, err := st.tokenAPI.Handle(ctx, tokenauth.Caller{Token: caller.Token, Privileged: privileged}, r)
		if err != nil || res == nil {
			return nil, err
		}
		return &Result{Response: res.Response, Issued: res.Issued}, nil
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
		if res.Issued, err = c.issueToken(ctx, st, m, resp.Auth, loginPath); err != nil {
			return nil, err
		}
		resp.Auth = nil
	}
	if resp != nil && resp.Secret != nil {
		if res.Lease, err = c.leaseSecret(ctx, st, caller, m, resp.Secret, fullPath); err != nil {
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

// issueToken turns a login's Auth into a token (tokenauth.Login).
func (c *Core) issueToken(ctx context.Context, st *unsealed, m *mount, a *logical.Auth, path string) (*token.Entry, error) {
	return st.tokenAPI.Login(ctx, a, tokenauth.Mount{
		Path: m.entry.Path, Accessor: m.entry.Accessor,
		DefaultTTL: time.Duration(m.entry.Config.DefaultLeaseTTL) * time.Second,
		MaxTTL:     time.Duration(m.entry.Config.MaxLeaseTTL) * time.Second,
	}, path, func(e *token.Entry) (*storage.Step, error) { return leaseLoginToken(st, e, path) })
}
