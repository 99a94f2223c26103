package transit

import (
	"context"
	"strings"

	"github.com/arca-secrets/arca/logical"
)

var _ logical.Invalidator = (*engine)(nil)

// Invalidate forgets the cached key that storage key names (written by
// another node): the next use reads it from storage.
func (e *engine) Invalidate(_ context.Context, key string) {
	if key == "" {
		e.keys.forgetAll()
		return
	}
	if name, ok := strings.CutPrefix(key, policyPrefix); ok {
		e.keys.forget(name)
	}
}

// forgetAll drops every cached key.
func (c *keyCache) forgetAll() {
	c.mu.RLock()
	names := make([]string, 0, len(c.keys))
	for name := range c.keys {
		names = append(names, name)
	}
	c.mu.RUnlock()
	for _, name := range names {
		c.forget(name)
	}
}

// forget drops name's entry; a change in progress on this node that holds
// it sees it dead and looks again.
func (c *keyCache) forget(name string) {
	c.mu.Lock()
	ent := c.keys[name]
	delete(c.keys, name)
	c.mu.Unlock()
	if ent == nil {
		return
	}
	ent.mu.Lock()
	ent.dead = true
	ent.mu.Unlock()
}
