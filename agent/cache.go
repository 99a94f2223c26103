package agent

import (
	"runtime"
	"sync"
	"time"
)

// kvCache serves repeated reads of static secrets (answers without a
// lease) from memory for a short time, per workload identity, so a
// workload that reads its config in a loop does not load the server.
// Any write by the same identity empties its entries. Only answers the
// agent has already cleaned of tokens are put in it (see proxy.go).
//
// While the server is unreachable, an entry is served for maxStale more
// past its TTL (stale), and only to the identity that read it.
type kvCache struct {
	ttl, maxStale time.Duration
	clock         clock
	mu            sync.Mutex
	m             map[string]map[string]cached
	// swept is when entries past use were last dropped.
	swept time.Time
}

type cached struct {
	rep *reply
	// stored is when the server gave the answer; expires is stored+ttl.
	stored, expires time.Time
}

// kvCacheLimit bounds the entries per identity.
const kvCacheLimit = 1024

func newKVCache(ttl, maxStale time.Duration, c clock) *kvCache {
	if ttl <= 0 {
		return nil
	}
	return &kvCache{ttl: ttl, maxStale: maxStale, clock: c, m: map[string]map[string]cached{}}
}

func (c *kvCache) get(who, uri string) *reply {
	rep, _ := c.getAged(who, uri)
	return rep
}

// getAged is get, with how long ago the server gave the answer.
func (c *kvCache) getAged(who, uri string) (*reply, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	c.sweepLocked(now)
	e, ok := c.m[who][uri]
	if !ok || !now.Before(e.expires) {
		return nil, 0
	}
	return e.rep, now.Sub(e.stored)
}

// staleness is how a cached answer stands when the server cannot be
// asked.
type staleness int

const (
	notCached      staleness = iota // nothing cached for this identity and URI
	withinMaxStale                  // served, with its age
	pastMaxStale                    // cached, but older than max_stale allows
)

// stale returns the entry for a read the server could not answer, its
// age (since the server gave it) and how far past its TTL it is. An
// entry is served up to maxStale past its TTL, the last instant
// included.
func (c *kvCache) stale(who, uri string) (*reply, staleness, time.Duration, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[who][uri]
	if !ok || c.maxStale <= 0 {
		return nil, notCached, 0, 0
	}
	now := c.clock.Now()
	age, past := now.Sub(e.stored), max(now.Sub(e.expires), 0)
	if past > c.maxStale || e.rep == nil {
		return nil, pastMaxStale, age, past
	}
	return e.rep, withinMaxStale, age, past
}

func (c *kvCache) put(who, uri string, rep *reply) {
	c.mu.Lock()
	defer c.mu.Unlock()
	byURI := c.m[who]
	if byURI == nil || len(byURI) >= kvCacheLimit {
		byURI = map[string]cached{}
		c.m[who] = byURI
	}
	now := c.clock.Now()
	byURI[uri] = cached{rep: rep, stored: now, expires: now.Add(c.ttl)}
	c.sweepLocked(now)
}

// sweepLocked drops, at most once per TTL, the answers that can no longer
// be served, not even stale: an answer holds a secret, and memory that
// holds it must be let go once it is of no use. The collector overwrites
// what it frees (secmem.ClobberFreed), so a sweep that dropped answers
// starts a collection rather than wait for the next one, which a quiet
// agent may not run for minutes.
func (c *kvCache) sweepLocked(now time.Time) {
	if now.Before(c.swept.Add(c.ttl)) {
		return
	}
	c.swept = now
	dropped := false
	defer func() {
		if dropped {
			go runtime.GC()
		}
	}()
	for who, byURI := range c.m {
		for uri, e := range byURI {
			switch past := now.Sub(e.expires); {
			case past > 2*c.maxStale+c.ttl:
				delete(byURI, uri)
			case past > c.maxStale && e.rep != nil:
				dropped = true
				// Kept without its answer for a while, so an outage
				// past max_stale is still told apart from "never read".
				e.rep = nil
				byURI[uri] = e
			}
		}
		if len(byURI) == 0 {
			delete(c.m, who)
		}
	}
}

func (c *kvCache) forget(who string) {
	c.mu.Lock()
	delete(c.m, who)
	c.mu.Unlock()
}
