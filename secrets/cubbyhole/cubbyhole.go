// Package cubbyhole is the key/value store private to each token, mounted
// at cubbyhole/: every token sees only its own, and it is destroyed with
// the token. It is the KV version 1 engine given, per request, the
// storage named by the calling token's hash (never by the token itself).
package cubbyhole

import (
	"context"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/secrets/kv"
	"github.com/arca-secrets/arca/storage"
)

// View is one token's cubbyhole within the cubbyhole store st.
func View(st storage.Backend, tokenHash string) *storage.View {
	return storage.NewView(st, tokenHash+"/")
}

// Clear deletes one token's cubbyhole.
func Clear(ctx context.Context, st storage.Backend, tokenHash string) error {
	return storage.ClearView(ctx, View(st, tokenHash))
}

// Engine answers cubbyhole/ requests in the caller's own cubbyhole.
type Engine struct {
	kv      logical.Engine
	storage storage.Backend
}

var (
	_ logical.Engine           = (*Engine)(nil)
	_ logical.ExistenceChecker = (*Engine)(nil)
)

// Factory creates the engine over conf.Storage, the store of every
// token's cubbyhole.
func Factory(ctx context.Context, conf logical.MountConfig) (logical.Engine, error) {
	e, err := kv.Factory(ctx, logical.MountConfig{Options: map[string]string{"version": "1"}, Storage: conf.Storage, Now: conf.Now})
	if err != nil {
		return nil, err
	}
	return &Engine{kv: e, storage: conf.Storage}, nil
}

// own is req narrowed to the caller's cubbyhole. A caller with no
// token hash (a batch token) has none.
func (e *Engine) own(req *logical.Request) (*logical.Request, error) {
	if req.TokenHash == "" {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "batch tokens have no cubbyhole")
	}
	st := req.Storage
	if st == nil {
		st = e.storage
	}
	r := *req
	r.Storage = View(st, req.TokenHash)
	return &r, nil
}

// HandleRequest serves the request in the caller's cubbyhole.
func (e *Engine) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	r, err := e.own(req)
	if err != nil {
		return nil, err
	}
	return e.kv.HandleRequest(ctx, r)
}

// Exists tells create from update in the caller's cubbyhole.
func (e *Engine) Exists(ctx context.Context, req *logical.Request) (bool, error) {
	r, err := e.own(req)
	if err != nil {
		return false, err
	}
	ec, ok := e.kv.(logical.ExistenceChecker)
	if !ok {
		return true, nil
	}
	return ec.Exists(ctx, r)
}
