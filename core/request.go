package core

import (
	"context"
	"strings"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

func clearViewData(ctx context.Context, m *mount) error {
	return storage.ClearView(ctx, m.view)
}

// HandleRequest checks token and routes req (whose Path is the full path
// after /v1/, such as "secret/data/app") to the engine mounted there.
func (c *Core) HandleRequest(ctx context.Context, token string, req *logical.Request) (*logical.Response, error) {
	c.stateLock.RLock()
	defer c.stateLock.RUnlock()
	if c.sealed {
		return nil, ErrSealed
	}
	if _, err := c.tokens.lookup(ctx, token); err != nil {
		return nil, err
	}
	m := c.router.match(req.Path)
	if m == nil {
		return nil, ErrNoMount
	}
	r := *req
	r.Path = strings.TrimPrefix(strings.TrimPrefix(req.Path, m.entry.Path), strings.TrimSuffix(m.entry.Path, "/"))
	r.Storage = m.view
	r.MountPoint = m.entry.Path
	if r.Data == nil {
		r.Data = map[string]any{}
	}
	return m.engine.HandleRequest(ctx, &r)
}
