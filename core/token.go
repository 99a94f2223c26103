package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"

	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/token"
)

// tokenStorePrefix is the token store's view inside the barrier.
const tokenStorePrefix = "sys/token/"

func (c *Core) openTokens(ctx context.Context) (*token.Store, error) {
	return token.Open(ctx, token.Config{
		Storage:  storage.NewView(c.barrier, tokenStorePrefix),
		Now:      c.now,
		OnRevoke: c.onTokenRevoke,
	})
}

// createRootToken makes a root token (id empty: a random one).
func createRootToken(ctx context.Context, ts *token.Store, id string) (string, error) {
	e, err := ts.Create(ctx, token.CreateRequest{
		ID:          id,
		Policies:    []string{"root"},
		NoExpiry:    true,
		DisplayName: "root",
		Path:        "auth/token/root",
	})
	if err != nil {
		return "", err
	}
	return e.ID, nil
}

// randomID returns a random UUID (version 4) string.
func randomID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// lookupToken returns the entry of a live token or ErrPermissionDenied.
// c.stateLock must be held.
func (c *Core) lookupToken(ctx context.Context, id string) (*token.Entry, error) {
	e, err := c.tokens.Lookup(ctx, id)
	if errors.Is(err, token.ErrNotFound) {
		return nil, ErrPermissionDenied
	}
	return e, err
}

// CheckToken returns the entry for a live token, or ErrPermissionDenied.
func (c *Core) CheckToken(ctx context.Context, id string) (*token.Entry, error) {
	c.stateLock.RLock()
	defer c.stateLock.RUnlock()
	if c.sealed {
		return nil, ErrSealed
	}
	return c.lookupToken(ctx, id)
}

// onTokenRevoke cleans up what belongs to a token when it goes.
func (c *Core) onTokenRevoke(ctx context.Context, e *token.Entry) error {
	if c.leases != nil {
		if err := c.leases.RevokeByToken(ctx, e.Accessor, true); err != nil {
			return err
		}
	}
	return c.dropCubbyhole(ctx, e)
}

// LookupAccessor returns the entry an accessor names.
func (c *Core) LookupAccessor(ctx context.Context, accessor string) (*token.Entry, error) {
	c.stateLock.RLock()
	defer c.stateLock.RUnlock()
	if c.sealed {
		return nil, ErrSealed
	}
	e, err := c.tokens.LookupAccessor(ctx, accessor)
	if errors.Is(err, token.ErrNotFound) {
		return nil, ErrPermissionDenied
	}
	return e, err
}
