package agent

import (
	"sync"
	"time"
)

// kvCache serves repeated reads of static secrets (answers without a
// lease) from memory for a short time, per workload identity, so a
// workload that reads its config in a loop does not load the server.
// Any write by the same identity empties its entries. Only answers the
// agent has already cleaned of tokens are put in it (see proxy.go).
type kvCache struct {
	ttl   time.Duration
	clock clock
	mu    sync.Mutex
	m     map[string]map[string]cached
}

type cached struct {
	rep     *reply
	expires time.Time
}

// kvCacheLimit bounds the entries per identity.
const kvCacheLimit = 1024

func newKVCache(ttl time.Duration, c clock) *kvCache {
	if ttl <= 0 {
		return nil
	}
	return &kvCache{ttl: ttl, clock: c, m: map[string]map[string]cached{}}
}

func (c *kvCache) get(who, uri string) *reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[who][uri]
	if !ok || !c.clock.Now().Before(e.expires) {
		return nil
	}
	return e.rep
}

func (c *kvCache) put(who, uri string, rep *reply) {
	c.mu.Lock()
	defer c.mu.Unlock()
	byURI := c.m[who]
	if byURI == nil || len(byURI) >= kvCacheLimit {
		byURI = map[string]cached{}
		c.m[who] = byURI
	}
	byURI[uri] = cached{rep: rep, expires: c.clock.Now().Add(c.ttl)}
}

func (c *kvCache) forget(who string) {
	c.mu.Lock()
	delete(c.m, who)
	c.mu.Unlock()
}
