package transit

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

const policyPrefix = "policy/"

// keyCache holds the parsed policy of each key in use.
//
// Readers (encrypt, decrypt, sign...) take an immutable *keyPolicy
// snapshot with one atomic load and never wait for a change. Changes to a
// key (create, rotate, config, trim, delete, restore) are serialised by that
// key's own mutex, so generating an RSA-4096 version blocks neither other
// keys nor readers of this one. A change writes storage first and only then
// publishes the new snapshot: a version is never used before it is durable.
type keyCache struct {
	mu   sync.RWMutex // guards keys (the map only)
	keys map[string]*keyEntry
}

type keyEntry struct {
	mu     sync.Mutex // serialises changes; guards loaded and dead
	cur    atomic.Pointer[keyPolicy]
	loaded bool // cur reflects storage (nil: the key does not exist)
	dead   bool // removed from the map; whoever holds it must look again
}

func newKeyCache() *keyCache { return &keyCache{keys: map[string]*keyEntry{}} }

func (c *keyCache) entry(name string) *keyEntry {
	c.mu.RLock()
	ent := c.keys[name]
	c.mu.RUnlock()
	if ent != nil {
		return ent
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ent = c.keys[name]; ent == nil {
		ent = &keyEntry{}
		c.keys[name] = ent
	}
	return ent
}

// get returns the key named name, or nil when there is none.
func (c *keyCache) get(ctx context.Context, st storage.Backend, name string) (*keyPolicy, error) {
	c.mu.RLock()
	ent := c.keys[name]
	c.mu.RUnlock()
	if ent != nil {
		if p := ent.cur.Load(); p != nil {
			return p, nil
		}
	}
	ent, p, err := c.lock(ctx, st, name)
	if err != nil {
		return nil, err
	}
	c.unlock(name, ent)
	return p, nil
}

// lock returns name's entry with its mutex held, and the current policy
// (nil when the key does not exist). The caller must call unlock.
func (c *keyCache) lock(ctx context.Context, st storage.Backend, name string) (*keyEntry, *keyPolicy, error) {
	for {
		ent := c.entry(name)
		ent.mu.Lock()
		if ent.dead {
			ent.mu.Unlock()
			continue
		}
		if !ent.loaded {
			p, err := readPolicy(ctx, st, name)
			if err != nil {
				c.unlock(name, ent)
				return nil, nil, err
			}
			ent.cur.Store(p)
			ent.loaded = true
		}
		return ent, ent.cur.Load(), nil
	}
}

// unlock releases ent; an entry for a key that does not exist leaves the
// map, so looking up names that do not exist does not grow it.
func (c *keyCache) unlock(name string, ent *keyEntry) {
	if ent.cur.Load() == nil {
		ent.dead = true
		c.mu.Lock()
		if c.keys[name] == ent {
			delete(c.keys, name)
		}
		c.mu.Unlock()
	}
	ent.mu.Unlock()
}

// publish writes p to storage and then makes it the key's snapshot; ent's
// mutex is held.
func (ent *keyEntry) publish(ctx context.Context, st storage.Backend, p *keyPolicy) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encoding key %s: %w", p.Name, err)
	}
	if err := st.Put(ctx, &storage.Entry{Key: policyPrefix + p.Name, Value: raw}); err != nil {
		return fmt.Errorf("storing key %s: %w", p.Name, err)
	}
	ent.cur.Store(p)
	return nil
}

// remove deletes the key from storage and then from the cache; ent's mutex
// is held.
func (ent *keyEntry) remove(ctx context.Context, st storage.Backend, name string) error {
	if err := st.Delete(ctx, policyPrefix+name); err != nil {
		return fmt.Errorf("deleting key %s: %w", name, err)
	}
	ent.cur.Store(nil)
	return nil
}

func readPolicy(ctx context.Context, st storage.Backend, name string) (*keyPolicy, error) {
	raw, err := st.Get(ctx, policyPrefix+name)
	if err != nil {
		return nil, fmt.Errorf("reading key %s: %w", name, err)
	}
	if raw == nil {
		return nil, nil
	}
	var p keyPolicy
	if err := json.Unmarshal(raw.Value, &p); err != nil {
		return nil, fmt.Errorf("decoding key %s: %w", name, err)
	}
	if err := p.prepare(); err != nil {
		return nil, fmt.Errorf("loading key %s: %w", name, err)
	}
	return &p, nil
}

// errNoKey is the answer for operations on a key that does not exist
// (Vault answers 400 here, not 404).
func errNoKey(name string) error {
	return logical.Errorf(logical.ErrInvalidRequest, "encryption key not found: %s", name)
}

// mustGet returns the key or errNoKey.
func (c *keyCache) mustGet(ctx context.Context, st storage.Backend, name string) (*keyPolicy, error) {
	if !validName(name) {
		return nil, errBadName
	}
	p, err := c.get(ctx, st, name)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errNoKey(name)
	}
	return p, nil
}

// update applies fn to a clone of the key under its mutex and publishes
// the result. fn gets nil when the key does not exist and may return nil
// to change nothing.
func (c *keyCache) update(ctx context.Context, st storage.Backend, name string, fn func(cur *keyPolicy) (*keyPolicy, error)) (*keyPolicy, error) {
	ent, cur, err := c.lock(ctx, st, name)
	if err != nil {
		return nil, err
	}
	defer c.unlock(name, ent)
	next, err := fn(cur)
	if err != nil || next == nil {
		return cur, err
	}
	if err := ent.publish(ctx, st, next); err != nil {
		return nil, err
	}
	return next, nil
}
