package token

import "strings"

// Invalidate forgets what the store holds in memory for key (relative to
// the store's storage view), after another node wrote it: the next read
// goes to storage.
func (s *Store) Invalidate(key string) {
	if hash, ok := strings.CutPrefix(key, idPrefix); ok {
		s.cache.drop(hash)
	}
}

// InvalidateAll forgets every entry held in memory.
func (s *Store) InvalidateAll() {
	s.cache.mu.Lock()
	s.cache.gen.Add(1)
	s.cache.m = nil
	s.cache.mu.Unlock()
}
