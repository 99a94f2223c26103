// Package database is the database secrets engine: it hands out
// short-lived PostgreSQL users created on demand under a lease and dropped
// when the lease ends, rotates the passwords of existing users (static
// roles) on a schedule, and rotates its own admin password so that only
// Arca knows it. Its API is Vault's, under the mount (database/).
//
// Storage layout, in the mount's view:
//
//	config/<name>        a connection (JSON; holds the admin password)
//	role/<name>          a dynamic role
//	static-role/<name>   a static role and its current password
//
// Every SQL statement is either parameterised or built from a statement
// template whose substituted values come from a restricted alphabet
// (generated usernames and passwords) or are checked against it (static
// usernames), so no request can inject SQL through them.
package database

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/arca-secrets/arca/logical"
)

// Engine is one mount of the database engine.
type Engine struct {
	pools *pools
	// statics serialises static-role rotations.
	statics sync.Mutex
	// now is the mount's clock: it decides when a static role is due
	// (the ticker only says when to look) and stamps credentials.
	now func() time.Time
	// conf and tick are what the rotation schedule runs on.
	conf logical.MountConfig
	tick time.Duration
	// closed ends a running schedule at Close; running counts them.
	closed    chan struct{}
	closeOnce sync.Once
	running   sync.WaitGroup
	// policyPassword generates from a named password policy (core's).
	policyPassword func(ctx context.Context, policy string) (string, error)
}

var _ logical.ActiveWorker = (*Engine)(nil)

// Factory creates the engine. Its static-role rotation schedule runs on
// the active node only (RunActive).
func Factory(ctx context.Context, conf logical.MountConfig) (logical.Engine, error) {
	return newEngine(conf, time.Second), nil
}

func newEngine(conf logical.MountConfig, tick time.Duration) *Engine {
	now := conf.Now
	if now == nil {
		now = time.Now
	}
	return &Engine{pools: newPools(), now: now, conf: conf, tick: tick, closed: make(chan struct{}), policyPassword: conf.GeneratePassword}
}

// RunActive rotates static roles when they are due, until ctx ends (the
// node seals or steps down) or the engine is closed.
func (e *Engine) RunActive(ctx context.Context) {
	e.running.Add(1)
	defer e.running.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-e.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	e.rotateLoop(ctx, e.conf, e.tick)
}

// Close stops the rotation schedule and closes every connection pool.
func (e *Engine) Close() {
	e.closeOnce.Do(func() { close(e.closed) })
	e.running.Wait()
	e.pools.closeAll()
}

// HandleRequest routes a request to its path's handler.
func (e *Engine) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	kind, name, _ := strings.Cut(req.Path, "/")
	if req.Operation == logical.ListOperation {
		if name != "" {
			return nil, logical.Errorf(logical.ErrUnsupportedPath, "no handler for %q", req.Path)
		}
		switch kind {
		case "config":
			return listKeys(ctx, req, configPrefix)
		case "roles":
			return listKeys(ctx, req, rolePrefix)
		case "static-roles":
			return listKeys(ctx, req, staticPrefix)
		}
		return nil, logical.Errorf(logical.ErrUnsupportedPath, "no handler for %q", req.Path)
	}
	if name == "" || strings.Contains(name, "/") {
		return nil, logical.Errorf(logical.ErrUnsupportedPath, "no handler for %q", req.Path)
	}
	if err := validName(name); err != nil {
		return nil, err
	}
	h, ok := handlers[kind]
	if !ok {
		return nil, logical.Errorf(logical.ErrUnsupportedPath, "no handler for %q", req.Path)
	}
	f, ok := h[req.Operation]
	if req.Operation == logical.CreateOperation && !ok {
		f, ok = h[logical.UpdateOperation]
	}
	if !ok {
		return nil, logical.Errorf(logical.ErrUnsupportedOperation, "%s is not supported on %s", req.Operation, kind+"/")
	}
	return f(e, ctx, req, name)
}

type handlerFunc func(e *Engine, ctx context.Context, req *logical.Request, name string) (*logical.Response, error)

var handlers map[string]map[logical.Operation]handlerFunc

func init() {
	handlers = map[string]map[logical.Operation]handlerFunc{
		"config": {
			logical.ReadOperation:   (*Engine).readConfig,
			logical.UpdateOperation: (*Engine).writeConfig,
			logical.DeleteOperation: (*Engine).deleteConfig,
		},
		"reset":       {logical.UpdateOperation: (*Engine).resetConnection},
		"rotate-root": {logical.UpdateOperation: (*Engine).rotateRoot},
		"roles": {
			logical.ReadOperation:   (*Engine).readRole,
			logical.UpdateOperation: (*Engine).writeRole,
			logical.DeleteOperation: (*Engine).deleteRole,
		},
		"creds": {logical.ReadOperation: (*Engine).issueCreds},
		"static-roles": {
			logical.ReadOperation:   (*Engine).readStaticRole,
			logical.UpdateOperation: (*Engine).writeStaticRole,
			logical.DeleteOperation: (*Engine).deleteStaticRole,
		},
		"static-creds": {logical.ReadOperation: (*Engine).readStaticCreds},
		"rotate-role":  {logical.UpdateOperation: (*Engine).rotateRole},
	}
}

// validName accepts the names of connections and roles: letters, digits
// and "-_.", as Vault's path patterns do.
func validName(name string) error {
	if len(name) > 128 {
		return logical.Errorf(logical.ErrInvalidRequest, "name is longer than 128 characters")
	}
	if !logical.NameChars(name) {
		return logical.Errorf(logical.ErrInvalidRequest, "invalid name %q: use letters, digits and -_.", name)
	}
	return nil
}

func listKeys(ctx context.Context, req *logical.Request, prefix string) (*logical.Response, error) {
	keys, err := req.Storage.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	return logical.ListResponse(keys), nil
}
