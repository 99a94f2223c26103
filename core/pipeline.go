package core

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/arca-secrets/arca/audit"
	"github.com/arca-secrets/arca/events"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/token"
)

// Request is a request as the server hands it to core. Every request,
// sys/ included, takes one way through core:
//
//	canonical path → sealed? → token → body → ACL → audit request
//	→ handler → leases / token issue → audit response
//
// The body is decoded only once the token has been checked (or the path
// needs none), so a caller without a token costs no parse.
type Request struct {
	Operation logical.Operation
	// Path is the full path after /v1/ ("secret/data/app").
	Path       string
	Token      string
	ClientAddr string
	// ClientCertificates is the TLS client chain, leaf first, unverified.
	ClientCertificates []*x509.Certificate
	WrapTTL            time.Duration
	// Body returns the request's parameters (JSON body or query);
	// authenticated says whether a token was checked, so that a request
	// served without one (a login) may be held to a smaller body. Nil
	// means no parameters.
	Body func(authenticated bool) (map[string]any, error)
}

// Call is an authorised request that a route outside the mount table (a
// sys endpoint) serves: what it may read of the pipeline's decisions.
type Call struct {
	// Path is the canonical path the ACL judged; the route serves it.
	Path string
	// Data are the parameters the ACL judged.
	Data map[string]any
	// Caller is the token and its ACL.
	Caller *Caller
	// after runs once the response is recorded (see After).
	after func(context.Context)
}

// After defers f until the response has been recorded: for a handler
// whose work would stop the recording itself (sealing closes the audit
// devices), so that its answer is audited first.
func (call *Call) After(f func(context.Context)) { call.after = f }

// SysHandler serves a sys endpoint once the pipeline has authorised and
// audited it. It returns the data to record as the response (the server
// writes the HTTP answer itself after Serve returns, so nothing reaches a
// client that was not recorded).
type SysHandler func(ctx context.Context, call *Call) (map[string]any, error)

// ServeSys runs the pipeline for a sys endpoint and calls h in it. An
// error from the pipeline (sealed, denied, audit) means h was not called
// or its answer must not be sent; h's own error is returned as is.
func (c *Core) ServeSys(ctx context.Context, req *Request, h SysHandler) error {
	return c.serveSys(ctx, req, h, false)
}

// ServeSysOpen is ServeSys for a sys endpoint that needs no token (the
// lookup of a wrapping token): no token or policy is checked, and the
// request and its answer are audited all the same. call.Caller is nil.
func (c *Core) ServeSysOpen(ctx context.Context, req *Request, h SysHandler) error {
	return c.serveSys(ctx, req, h, true)
}

func (c *Core) serveSys(ctx context.Context, req *Request, h SysHandler, open bool) error {
	path, err := c.CanonicalPath(req.Path, req.Operation)
	if err != nil {
		return err
	}
	ctx = WithWrapTTL(ctx, req.WrapTTL)
	checked, err := c.admit(ctx, req, path, open)
	if err != nil {
		return err
	}
	call := &Call{Path: path, Data: checked.data, Caller: checked.caller}
	var data map[string]any
	herr := c.recovered(path, func() (err error) {
		data, err = h(ctx, call)
		return err
	})
	ctx = context.WithoutCancel(ctx)
	res := &Result{Response: &logical.Response{Data: data}}
	var te *token.Entry
	if checked.caller != nil {
		te = checked.caller.Token
	}
	// The handler ran outside the state lock (it takes it itself). Its
	// answer is recorded under the lock, by the devices of the state that
	// admitted it: if the core sealed in between, the answer is not sent.
	st, release, err := c.enter()
	if err != nil {
		return err
	}
	if st != checked.state {
		release()
		return ErrSealed
	}
	aerr := c.logResponse(ctx, te, checked.audit, res, herr)
	release()
	if aerr != nil {
		return aerr
	}
	if call.after != nil && herr == nil {
		call.after(ctx)
	}
	return herr
}

// HandleRequest serves req (already decoded) for tokenID: the pipeline
// for callers in process, such as tests and benchmarks.
func (c *Core) HandleRequest(ctx context.Context, tokenID string, req *logical.Request) (*Result, error) {
	data := req.Data
	return c.Serve(ctx, &Request{
		Operation: req.Operation, Path: req.Path, Token: tokenID, ClientAddr: req.ClientAddr,
		ClientCertificates: req.ClientCertificates, WrapTTL: req.WrapTTL,
		Body: func(bool) (map[string]any, error) { return data, nil },
	})
}

// Serve routes req to the engine mounted at its path, through the
// pipeline. Login paths of auth methods need no token.
func (c *Core) Serve(ctx context.Context, req *Request) (*Result, error) {
	path, err := canonicalSlashes(req.Path, req.Operation)
	if err != nil {
		return nil, err
	}
	ctx = WithWrapTTL(ctx, req.WrapTTL)
	st, release, err := c.enter()
	if err != nil {
		return nil, err
	}
	defer release()
	// The rest of CanonicalPath, under the lock that serves the request:
	// the mount that folds its names is the one that will answer.
	path = st.foldNames(path)
	m := st.router.match(path)
	r := &logical.Request{
		Operation: req.Operation, Path: path, ClientAddr: req.ClientAddr,
		ClientCertificates: req.ClientCertificates, WrapTTL: req.WrapTTL,
	}
	if m != nil {
		r.Path = m.relative(path)
		r.Storage = m.view
		r.MountPoint = m.entry.Path
		r.MountDefaultTTL = time.Duration(m.entry.Config.DefaultLeaseTTL) * time.Second
		r.MountMaxTTL = time.Duration(m.entry.Config.MaxLeaseTTL) * time.Second
	}
	checked, err := c.admitLocked(ctx, st, req, path, m, r, false)
	if err != nil {
		return nil, err
	}
	r.Data = checked.data
	var te *token.Entry
	if checked.caller != nil {
		te = checked.caller.Token
		r.DisplayName = te.DisplayName
	}
	var res *Result
	err = c.recovered(path, func() (err error) {
		res, err = c.route(ctx, st, checked.caller, m, r, path)
		return err
	})
	// What the engine did stands even if the client has gone: the answer
	// is audited, and whatever it issued is revoked if it cannot be.
	ctx = context.WithoutCancel(ctx)
	if aerr := c.logResponse(ctx, te, checked.audit, res, err); aerr != nil {
		if res != nil {
			c.revokeUnrecorded(ctx, st, res.Issued)
			c.revokeUnrecordedLease(ctx, st, res.Lease)
		}
		return nil, aerr
	}
	if err == nil && m != nil {
		// Only a change that was recorded is announced; never its values.
		me := m.entry
		if ev, ok := events.ForRequest(events.Mount{Path: me.Path, Type: me.Type, Accessor: me.Accessor, Version: me.Options["version"]}, r.Path, string(r.Operation)); ok {
			c.events.Publish(ev)
		}
	}
	return res, err
}

// admitted is what the pipeline's checks produced for a request.
type admitted struct {
	state  *unsealed
	caller *Caller // nil for a login
	data   map[string]any
	audit  *audit.Request
}

// admit is admitLocked for a sys route: under the state lock only for the
// checks, as sys handlers take the lock themselves.
func (c *Core) admit(ctx context.Context, req *Request, path string, open bool) (*admitted, error) {
	st, release, err := c.enter()
	if err != nil {
		return nil, err
	}
	defer release()
	return c.admitLocked(ctx, st, req, path, nil, nil, open)
}

// admitLocked checks the token (unless r is a login or the sys route is
// open), decodes the body, checks the ACL with the operation the handler
// will perform, and writes the request's audit entry. m and r are nil for
// sys routes. st must be the state entered for the request.
func (c *Core) admitLocked(ctx context.Context, st *unsealed, req *Request, path string, m *mount, r *logical.Request, open bool) (*admitted, error) {
	reqID, err := randomID()
	if err != nil {
		return nil, err
	}
	ar := &audit.Request{ID: reqID, Operation: string(req.Operation), Path: path, ClientAddr: req.ClientAddr, WrapTTL: req.WrapTTL, MountPoint: "sys/", MountType: "system"}
	if m != nil {
		ar.MountPoint, ar.MountType = m.entry.Path, m.entry.Type
	} else if r != nil {
		ar.MountPoint, ar.MountType = "", ""
	}
	login := open || (m != nil && r != nil && m.isLoginPath(r.Path))
	var te *token.Entry
	if !login {
		if te, err = st.lookupToken(ctx, req.Token); err != nil {
			c.logRefusal(ctx, nil, ar, err)
			return nil, err
		}
		// Refused whatever the body says: refused before it is read.
		if err := c.mayAllow(ctx, te, path, req.Operation, req.ClientAddr); err != nil {
			c.logRefusal(ctx, te, ar, err)
			return nil, err
		}
	}
	data, err := decodeParams(req, te != nil)
	if err != nil {
		c.logRefusal(ctx, te, ar, err)
		return nil, err
	}
	ar.Data = data
	if login {
		if err := c.logRequest(ctx, nil, ar); err != nil {
			return nil, err
		}
		return &admitted{state: st, data: data, audit: ar}, nil
	}
	op := string(req.Operation)
	if r != nil {
		r.Data = data
		if te.Type != "batch" {
			// Before the existence check: the cubbyhole looks in the
			// caller's own.
			r.TokenHash = te.Hash
		}
		if op, err = c.policyOperation(ctx, m, r); err != nil {
			c.logRefusal(ctx, te, ar, err)
			return nil, err
		}
		ar.Operation = op
	}
	caller, err := c.authorizeEntry(ctx, st, te, path, op, data, req.ClientAddr)
	if err != nil {
		c.logRefusal(ctx, te, ar, err)
		return nil, err
	}
	if err := c.logRequest(ctx, te, ar); err != nil {
		return nil, err
	}
	return &admitted{state: st, caller: caller, data: data, audit: ar}, nil
}

// mayAllow refuses a request that te cannot make whatever its body says:
// from an address outside the token's bound CIDRs, or refused by its
// policies for any parameters (a write is let through if it may be a
// create or an update: which one is known only after the body).
func (c *Core) mayAllow(ctx context.Context, te *token.Entry, path string, op logical.Operation, clientAddr string) error {
	if !cidrAllows(te.BoundCIDRs, clientAddr) {
		return fmt.Errorf("%w: the token cannot be used from this address", ErrPermissionDenied)
	}
	acl, err := c.aclFor(ctx, te.Policies)
	if err != nil {
		return err
	}
	ok := acl.MayAllow(path, string(op))
	if op == logical.UpdateOperation {
		ok = ok || acl.MayAllow(path, string(logical.CreateOperation))
	}
	if !ok {
		return ErrPermissionDenied
	}
	return nil
}

func decodeParams(req *Request, authenticated bool) (map[string]any, error) {
	if req.Body == nil {
		return map[string]any{}, nil
	}
	data, err := req.Body(authenticated)
	if err != nil {
		return nil, err
	}
	if data == nil {
		data = map[string]any{}
	}
	return data, nil
}

// errPanic: a handler panicked; the request is answered and audited as
// an internal error.
var errPanic = errors.New("internal error")

// recovered runs f, turning a panic into errPanic so that the request's
// response entry is still written (the panic value, which may hold
// request data, goes to the log only).
func (c *Core) recovered(path string, f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("panic serving request", "path", path, "panic", fmt.Sprint(v))
			err = errPanic
		}
	}()
	return f()
}
