// Package cert is the TLS certificate auth method, compatible with
// Vault's "cert": an operator registers trusted certificates (CAs, or
// self-signed leaves) under certs/<name> with constraints on the client
// certificate's names and the token settings a login gets; a client logs
// in at login by presenting its certificate in the TLS handshake, with no
// other secret. The server's TLS listener asks for a client certificate
// but does not verify it: this method does, against its own trust list.
//
// Storage layout, in the mount's view:
//
//	certs/<name>   a trusted certificate entry (JSON)
package cert

import (
	"context"
	"strings"
	"time"

	"github.com/arca-secrets/arca/logical"
)

// Engine is one mounted cert method.
type Engine struct {
	// now is the mount's clock: certificates are verified, and renewals
	// refused after the client certificate expires, at its time.
	now func() time.Time
}

var (
	_ logical.Engine           = (*Engine)(nil)
	_ logical.Renewer          = (*Engine)(nil)
	_ logical.LoginPaths       = (*Engine)(nil)
	_ logical.ExistenceChecker = (*Engine)(nil)
)

// Factory creates the method for a mount.
func Factory(_ context.Context, conf logical.MountConfig) (logical.Engine, error) {
	now := conf.Now
	if now == nil {
		now = time.Now
	}
	return &Engine{now: now}, nil
}

// LoginPaths: the login answers without a token; the certificate is the
// credential.
func (e *Engine) LoginPaths() []string { return []string{"login"} }

// HandleRequest routes trusted-certificate management and login.
func (e *Engine) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	switch {
	case req.Path == "login":
		if req.Operation != logical.UpdateOperation && req.Operation != logical.CreateOperation {
			return nil, logical.Errorf(logical.ErrUnsupportedOperation, "login takes a write")
		}
		return e.login(ctx, req)
	case req.Path == "certs/" || req.Path == "certs":
		if req.Operation != logical.ListOperation {
			return nil, logical.Errorf(logical.ErrUnsupportedOperation, "certs/ takes a list")
		}
		keys, err := req.Storage.List(ctx, certsPrefix)
		if err != nil {
			return nil, err
		}
		return logical.ListResponse(keys), nil
	case strings.HasPrefix(req.Path, "certs/"):
		name := strings.TrimPrefix(req.Path, "certs/")
		if err := validName(name); err != nil {
			return nil, err
		}
		switch req.Operation {
		case logical.ReadOperation:
			return readTrusted(ctx, req, name)
		case logical.CreateOperation, logical.UpdateOperation:
			return writeTrusted(ctx, req, name)
		case logical.DeleteOperation:
			return nil, req.Storage.Delete(ctx, certsPrefix+name)
		}
		return nil, logical.Errorf(logical.ErrUnsupportedOperation, "%s is not supported on certs/", req.Operation)
	}
	return nil, logical.Errorf(logical.ErrUnsupportedPath, "no handler for %q", req.Path)
}

// Exists tells create from update for the policy check.
func (e *Engine) Exists(ctx context.Context, req *logical.Request) (bool, error) {
	name, ok := strings.CutPrefix(req.Path, "certs/")
	if !ok || validName(name) != nil {
		return true, nil
	}
	en, err := req.Storage.Get(ctx, certsPrefix+name)
	return en != nil, err
}

func validName(name string) error {
	if name == "" || len(name) > 128 {
		return logical.Errorf(logical.ErrInvalidRequest, "a certificate entry name of 1 to 128 characters is required")
	}
	if !logical.NameChars(name) {
		return logical.Errorf(logical.ErrInvalidRequest, "invalid certificate entry name %q: use letters, digits and -_.", name)
	}
	return nil
}
