package kv

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

// maxCachedMeta bounds the decoded metadata a mount keeps; past it the
// cache starts over (a read then decodes once more).
const maxCachedMeta = 16384

// metaCache keeps keys' decoded metadata for reads: decoding it (JSON,
// a map of versions with their times) was a sixth of a KV read's CPU on
// durable storage. It holds no secret value, only what metadata/<key>
// shows. Readers never change what they get; every request that may change
// a key drops its entry before and after (HandleRequest), and another
// node's write drops it through Invalidate.
//
// A read that raced a change must not put the old metadata back: each drop
// bumps gen, and a reader fills only if gen has not moved since it began
// reading storage.
type metaCache struct {
	mu  sync.RWMutex
	m   map[string]*keyMeta
	gen atomic.Uint64
}

func (c *metaCache) get(key string) (*keyMeta, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	m, ok := c.m[key]
	return m, ok
}

func (c *metaCache) fill(gen uint64, key string, m *keyMeta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	if c.m == nil || len(c.m) >= maxCachedMeta {
		c.m = make(map[string]*keyMeta)
	}
	c.m[key] = m
}

func (c *metaCache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	delete(c.m, key)
}

func (c *metaCache) dropAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	c.m = nil
}

// loadMetaForRead is loadMeta through the cache; the caller must not
// change what it returns.
func (e *v2Engine) loadMetaForRead(ctx context.Context, st storage.Backend, key string) (*keyMeta, error) {
	if m, ok := e.meta.get(key); ok {
		return m, nil
	}
	gen := e.meta.gen.Load()
	m, err := loadMeta(ctx, st, key)
	if err != nil || m == nil {
		return m, err
	}
	e.meta.fill(gen, key, m)
	return m, nil
}

var _ logical.Invalidator = (*v2Engine)(nil)

// Invalidate forgets the cached metadata of a key another node changed
// (key is relative to the mount's storage; empty: everything).
func (e *v2Engine) Invalidate(_ context.Context, key string) {
	if key == "" {
		e.meta.dropAll()
		return
	}
	if name, ok := strings.CutPrefix(key, metaPrefix); ok {
		e.meta.drop(name)
	}
}
