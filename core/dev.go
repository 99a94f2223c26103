package core

import (
	"context"
	"fmt"

	"github.com/arca-secrets/arca/token"
)

// DevInit initialises with a single unseal key, unseals, replaces the root
// token with rootTokenID when it is not empty, and mounts KV version 2 at
// secret/. It returns the unseal key and the root token.
func (c *Core) DevInit(ctx context.Context, rootTokenID string) (*InitResult, error) {
	res, err := c.Init(ctx, 1, 1)
	if err != nil {
		return nil, err
	}
	if _, err := c.Unseal(ctx, res.Shares[0]); err != nil {
		return nil, fmt.Errorf("unsealing dev server: %w", err)
	}
	if rootTokenID != "" {
		st, release, err := c.enter()
		if err != nil {
			return nil, err
		}
		var generated *token.Entry
		generated, err = st.tokens.Lookup(ctx, res.RootToken)
		if err == nil {
			res.RootToken, err = createRootToken(ctx, st.tokens, rootTokenID)
		}
		if err == nil {
			err = st.tokens.Revoke(ctx, generated)
		}
		release()
		if err != nil {
			return nil, err
		}
	}
	if err := c.Mount(ctx, MountEntry{Path: "secret/", Type: "kv", Description: "key/value secret storage", Options: map[string]string{"version": "2"}}); err != nil {
		return nil, fmt.Errorf("mounting secret/: %w", err)
	}
	return res, nil
}
