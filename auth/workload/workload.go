// Package workload is Arca's own auth method for processes on a host that
// hold no secret: the host's agent sees who is calling (kernel
// credentials, executable, cgroup, container, systemd unit, SELinux
// label), and logs the caller in with those selectors, using the agent's
// own token. The server decides: roles bind selectors to policies, and a
// login gets exactly the policies of the one role that matches.
//
// Every token a role issued has its lease under login/<role>, so changing
// or deleting the role revokes them at once and the change holds from the
// next request.
//
// Storage layout, in the mount's view:
//
//	role/<name>   a role (JSON)
package workload

import (
	"context"
	"strings"
	"sync"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

// Engine is one mounted workload method.
type Engine struct {
	storage storage.Backend
	revoke  func(ctx context.Context, prefix string) (int, error)
	// mu: logins hold it for reading, role changes for writing, so that no
	// login can issue a token under a role's old bindings after the change
	// has revoked the role's tokens.
	mu sync.RWMutex
}

var (
	_ logical.Engine           = (*Engine)(nil)
	_ logical.Renewer          = (*Engine)(nil)
	_ logical.ExistenceChecker = (*Engine)(nil)
)

// Factory creates the method for a mount.
func Factory(ctx context.Context, conf logical.MountConfig) (logical.Engine, error) {
	return &Engine{storage: conf.Storage, revoke: conf.RevokeLeases}, nil
}

// HandleRequest routes role management and login. Login is not a
// token-less path: only a caller (an agent) whose token may update
// "login" can vouch for a workload.
func (e *Engine) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	switch {
	case req.Path == "login":
		if req.Operation != logical.UpdateOperation && req.Operation != logical.CreateOperation {
			return nil, logical.Errorf(logical.ErrUnsupportedOperation, "login takes a write")
		}
		return e.login(ctx, req)
	case req.Path == "role/" || req.Path == "role":
		if req.Operation != logical.ListOperation {
			return nil, logical.Errorf(logical.ErrUnsupportedOperation, "role/ takes a list")
		}
		keys, err := req.Storage.List(ctx, rolePrefix)
		if err != nil {
			return nil, err
		}
		return logical.ListResponse(keys), nil
	case strings.HasPrefix(req.Path, "role/"):
		name := strings.TrimPrefix(req.Path, "role/")
		if err := validRoleName(name); err != nil {
			return nil, err
		}
		switch req.Operation {
		case logical.ReadOperation:
			return e.readRole(ctx, req, name)
		case logical.CreateOperation, logical.UpdateOperation:
			return e.writeRole(ctx, req, name)
		case logical.DeleteOperation:
			return e.deleteRole(ctx, req, name)
		}
		return nil, logical.Errorf(logical.ErrUnsupportedOperation, "%s is not supported on role/", req.Operation)
	}
	return nil, logical.Errorf(logical.ErrUnsupportedPath, "no handler for %q", req.Path)
}

// Exists tells create from update for the policy check.
func (e *Engine) Exists(ctx context.Context, req *logical.Request) (bool, error) {
	name, ok := strings.CutPrefix(req.Path, "role/")
	if !ok || name == "" {
		return true, nil
	}
	en, err := req.Storage.Get(ctx, rolePrefix+name)
	return en != nil, err
}

func validRoleName(name string) error {
	if name == "" || len(name) > 128 {
		return logical.Errorf(logical.ErrInvalidRequest, "a role name of 1 to 128 characters is required")
	}
	if !logical.NameChars(name) {
		return logical.Errorf(logical.ErrInvalidRequest, "invalid role name %q: use letters, digits and -_.", name)
	}
	return nil
}
