package core

import (
	"context"
	"fmt"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/secrets/cubbyhole"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/token"
)

// The cubbyhole (secrets/cubbyhole) is built in, mounted at cubbyhole/
// over one store that holds every token's; core also keeps wrapped
// responses in the cubbyholes of wrapping tokens, and clears a token's
// when it is revoked.

const (
	cubbyholeType   = "cubbyhole"
	cubbyholePrefix = "sys/cubbyhole/"
)

var cubbyholeMount = MountEntry{Path: "cubbyhole/", Type: cubbyholeType, Description: "per-token private secret storage", UUID: "cubbyhole", Accessor: "cubbyhole"}

func (c *Core) cubbyholeStore() *storage.View { return storage.NewView(c.barrier, cubbyholePrefix) }

// cubbyholeView is the storage of one token's cubbyhole.
func (c *Core) cubbyholeView(e *token.Entry) *storage.View {
	return cubbyhole.View(c.cubbyholeStore(), e.Hash)
}

// startCubbyhole makes the built-in cubbyhole mount.
func (c *Core) startCubbyhole(ctx context.Context) (*mount, error) {
	store := c.cubbyholeStore()
	engine, err := cubbyhole.Factory(ctx, logical.MountConfig{Storage: store, Now: c.now})
	if err != nil {
		return nil, fmt.Errorf("starting cubbyhole: %w", err)
	}
	return &mount{entry: cubbyholeMount, engine: engine, view: store}, nil
}

// dropCubbyhole deletes a revoked token's cubbyhole.
func (c *Core) dropCubbyhole(ctx context.Context, e *token.Entry) error {
	return cubbyhole.Clear(ctx, c.cubbyholeStore(), e.Hash)
}
