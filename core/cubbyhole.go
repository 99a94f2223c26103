package core

import (
	"context"
	"fmt"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/token"
)

// The cubbyhole is a key/value store private to each token: every token
// sees only its own, and it is destroyed with the token. It is the KV v1
// engine given, per request, a storage view named by the token.

const (
	cubbyholeType   = "cubbyhole"
	cubbyholePrefix = "sys/cubbyhole/"
)

var cubbyholeMount = MountEntry{Path: "cubbyhole/", Type: cubbyholeType, Description: "per-token private secret storage", UUID: "cubbyhole", Accessor: "cubbyhole"}

// cubbyholeView is the storage of one token's cubbyhole. It is keyed by
// the token's hash (already an HMAC of the token), never by the token.
func (c *Core) cubbyholeView(e *token.Entry) *storage.View {
	return storage.NewView(c.barrier, cubbyholePrefix+e.Hash+"/")
}

// startCubbyhole makes the built-in cubbyhole mount, when a kv engine is
// available.
func (c *Core) startCubbyhole(ctx context.Context) (*mount, error) {
	factory, ok := c.engines["kv"]
	if !ok {
		return nil, nil
	}
	engine, err := factory(ctx, logical.MountConfig{Options: map[string]string{"version": "1"}, Now: c.now})
	if err != nil {
		return nil, fmt.Errorf("starting cubbyhole: %w", err)
	}
	return &mount{entry: cubbyholeMount, engine: engine}, nil
}

// dropCubbyhole deletes a revoked token's cubbyhole.
func (c *Core) dropCubbyhole(ctx context.Context, e *token.Entry) error {
	return storage.ClearView(ctx, c.cubbyholeView(e))
}
