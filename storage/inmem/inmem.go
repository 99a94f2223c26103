// Package inmem is an in-memory storage backend for dev mode and tests.
// Nothing survives the process.
package inmem

import (
	"context"
	"sort"
	"strings"
	"sync"

	"github.com/arca-secrets/arca/storage"
)

// Backend is a map guarded by a RWMutex.
type Backend struct {
	mu   sync.RWMutex
	data map[string][]byte
}

var _ storage.Backend = (*Backend)(nil)

// New returns an empty backend.
func New() *Backend {
	return &Backend{data: map[string][]byte{}}
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
	b.data[entry.Key] = v
	b.mu.Unlock()
	return nil
}

// Delete removes key; a missing key is not an error.
func (b *Backend) Delete(_ context.Context, key string) error {
	if !storage.ValidKey(key) {
		return storage.ErrInvalidKey
	}
	b.mu.Lock()
	delete(b.data, key)
	b.mu.Unlock()
	return nil
}

// List returns the sorted names directly under prefix.
func (b *Backend) List(_ context.Context, prefix string) ([]string, error) {
	seen := map[string]struct{}{}
	b.mu.RLock()
	for k := range b.data {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok || rest == "" {
			continue
		}
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			rest = rest[:i+1]
		}
		seen[rest] = struct{}{}
	}
	b.mu.RUnlock()
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}
