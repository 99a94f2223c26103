// Package storage defines the small interface every Arca storage backend
// implements (in-memory, bbolt, and later Raft and PostgreSQL) and helpers
// that work over any backend. The barrier wraps a backend and is itself a
// Backend, so engines never know whether their bytes are encrypted.
package storage

import (
	"context"
	"errors"
	"strings"
)

// Entry is one key and its value. Keys are slash-separated paths with no
// leading slash; a key never ends in a slash.
type Entry struct {
	Key   string
	Value []byte
}

// Backend is the storage interface. Implementations must be safe for
// concurrent use.
//
// Get returns (nil, nil) when the key does not exist. List returns the names
// directly under prefix (which is empty or ends in "/"), sorted; a name that
// has keys beneath it is returned once, with a trailing "/". Delete of a
// missing key is not an error.
type Backend interface {
	Get(ctx context.Context, key string) (*Entry, error)
	Put(ctx context.Context, entry *Entry) error
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, prefix string) ([]string, error)
}

// ErrInvalidKey is returned for a key that is empty, starts or ends with "/",
// or contains an empty segment.
var ErrInvalidKey = errors.New("invalid storage key")

// ValidKey reports whether key is a well-formed storage key.
func ValidKey(key string) bool {
	if key == "" || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
		return false
	}
	return !strings.Contains(key, "//")
}
