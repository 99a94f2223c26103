package database

import (
	"context"

	"github.com/arca-secrets/arca/logical"
)

var defaultRootRotation = []string{`ALTER ROLE "{{username}}" WITH PASSWORD '{{password}}'`}

// rotateRoot gives the connection's admin user a new password that only
// Arca knows. The new password is stored as pending before the database
// changes, so a crash in between loses neither.
func (e *Engine) rotateRoot(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	e.statics.Lock()
	defer e.statics.Unlock()
	c, err := mustConfig(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if c.Username == "" {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "database %q has no username to rotate", name)
	}
	if err := safeValue("username", c.Username); err != nil {
		return nil, err
	}
	pw, err := e.newPassword(ctx, c)
	if err != nil {
		return nil, err
	}
	c.PendingPassword = pw
	if err := putConfig(ctx, req.Storage, name, c); err != nil {
		return nil, err
	}
	stmts := c.RootRotation
	if len(stmts) == 0 {
		stmts = defaultRootRotation
	}
	err = e.execOn(ctx, req.Storage, name, pw, "root_rotation_statements", stmts, vars{name: c.Username, password: pw})
	if err == nil {
		c.Password = pw
	}
	c.PendingPassword = ""
	if perr := putConfig(ctx, req.Storage, name, c); perr != nil {
		return nil, perr
	}
	e.pools.drop(name)
	return nil, err
}
