// Package inmem is an in-memory storage backend for dev mode and tests.
// Nothing survives the process.
//
// Besides the map of entries it keeps a folder index (for every folder,
// its direct children with a count of keys beneath each), so that List
// costs the size of the folder listed, not the size of the store.
package inmem

import (
	"context"
	"sort"
	"strings"
	"sync"

	"github.com/arca-secrets/arca/storage"
)

// Backend is a map and a folder index guarded by a RWMutex.
type Backend struct {
	mu   sync.RWMutex
	data map[string][]byte
	// dirs maps a folder ("" or "a/b/") to its children ("c" or "d/")
	// and how many keys each child stands for.
	dirs map[string]map[string]int
}

var _ storage.Backend = (*Backend)(nil)

// New returns an empty backend.
func New() *Backend {
	return &Backend{data: map[string][]byte{}, dirs: map[string]map[string]int{}}
}

// Get returns a copy of the value at key, or (nil, nil).
func (b *Backend) Get(_ context.Context, key string) (*storage.Entry, error) {
	if !storage.ValidKey(key) {
		return nil, storage.ErrInvalidKey
	}
	b.mu.RLock()
	v, ok := b.data[key]
	b.mu.RUnlock()
	if !ok {
		return nil, nil
	}
	return &storage.Entry{Key: key, Value: append([]byte(nil), v...)}, nil
}

// Put stores a copy of entry's value.
func (b *Backend) Put(_ context.Context, entry *storage.Entry) error {
	if !storage.ValidKey(entry.Key) {
		return storage.ErrInvalidKey
	}
	v := append([]byte(nil), entry.Value...)
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, exists := b.data[entry.Key]; !exists {
		b.index(entry.Key, 1)
	}
	b.data[entry.Key] = v
	return nil
}

// Delete removes key; a missing key is not an error.
func (b *Backend) Delete(_ context.Context, key string) error {
	if !storage.ValidKey(key) {
		return storage.ErrInvalidKey
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, exists := b.data[key]; exists {
		delete(b.data, key)
		b.index(key, -1)
	}
	return nil
}

// index adds delta to the count of key's entry in every folder on its
// path, dropping entries and folders that reach zero. b.mu is held.
func (b *Backend) index(key string, delta int) {
	dir := ""
	rest := key
	for {
		i := strings.IndexByte(rest, '/')
		child := rest
		if i >= 0 {
			child = rest[:i+1]
		}
		children := b.dirs[dir]
		if children == nil {
			children = map[string]int{}
			b.dirs[dir] = children
		}
		children[child] += delta
		if children[child] <= 0 {
			delete(children, child)
			if len(children) == 0 {
				delete(b.dirs, dir)
			}
		}
		if i < 0 {
			return
		}
		dir += child
		rest = rest[i+1:]
	}
}

// List returns the sorted names directly under prefix.
func (b *Backend) List(_ context.Context, prefix string) ([]string, error) {
	b.mu.RLock()
	out := make([]string, 0, len(b.dirs[prefix]))
	for name := range b.dirs[prefix] {
		out = append(out, name)
	}
	b.mu.RUnlock()
	sort.Strings(out)
	return out, nil
}

var _ storage.Batcher = (*Backend)(nil)

// WriteAll stores copies of puts and removes deletes under one lock.
func (b *Backend) WriteAll(_ context.Context, puts []*storage.Entry, deletes []string) error {
	for _, e := range puts {
		if !storage.ValidKey(e.Key) {
			return storage.ErrInvalidKey
		}
	}
	for _, k := range deletes {
		if !storage.ValidKey(k) {
			return storage.ErrInvalidKey
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range puts {
		if _, exists := b.data[e.Key]; !exists {
			b.index(e.Key, 1)
		}
		b.data[e.Key] = append([]byte(nil), e.Value...)
	}
	for _, k := range deletes {
		if _, exists := b.data[k]; exists {
			delete(b.data, k)
			b.index(k, -1)
		}
	}
	return nil
}
