package token

import (
	"maps"
	"slices"
	"sync"
	"sync/atomic"
)

// maxCached bounds the decoded entries kept in memory; past it the cache
// starts over (a token check then costs one decode more).
const maxCached = 16384

// entryCache keeps decoded token entries by hash, so that the token check
// every request makes does not decode JSON each time. Only this process
// writes the store's storage (bbolt holds a file lock), and every write
// of an entry goes through the Store, which drops it here first.
//
// A read that raced a write must not put the old entry back: a write
// drops the entry before and after it reaches storage, each drop bumps
// gen, and a reader fills only if gen has not moved since it began
// reading storage.
type entryCache struct {
	mu  sync.RWMutex
	m   map[string]*Entry
	gen atomic.Uint64
}

// get returns a copy of the cached entry for hash, if any.
func (c *entryCache) get(hash string) (*Entry, bool) {
	c.mu.RLock()
	e, ok := c.m[hash]
	c.mu.RUnlock()
	if !ok {
		return nil, false
	}
	return e.clone(), true
}

// begin is called before reading storage; fill takes what it returned.
func (c *entryCache) begin() uint64 { return c.gen.Load() }

// fill caches a copy of e, read from storage since begin returned gen,
// unless an entry was dropped in between.
func (c *entryCache) fill(gen uint64, e *Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	if c.m == nil || len(c.m) >= maxCached {
		c.m = make(map[string]*Entry)
	}
	c.m[e.Hash] = e.clone()
}

// drop forgets hash; called before and after the entry is written or
// deleted.
func (c *entryCache) drop(hash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	delete(c.m, hash)
}

// clone copies e deeply enough that no caller can change the cache.
func (e *Entry) clone() *Entry {
	out := *e
	out.Policies = slices.Clone(e.Policies)
	out.BoundCIDRs = slices.Clone(e.BoundCIDRs)
	out.Meta = maps.Clone(e.Meta)
	out.InternalData = maps.Clone(e.InternalData)
	return &out
}
