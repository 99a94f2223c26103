package storage

import (
	"context"
	"strings"
)

// View scopes a backend to a key prefix, so that an engine sees only its own
// keys. The prefix must end in "/".
type View struct {
	backend Backend
	prefix  string
}

var _ Backend = (*View)(nil)

// NewView returns a view of backend under prefix.
func NewView(backend Backend, prefix string) *View {
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &View{backend: backend, prefix: prefix}
}

// Prefix returns the view's prefix in the underlying backend.
func (v *View) Prefix() string { return v.prefix }

func (v *View) Get(ctx context.Context, key string) (*Entry, error) {
	if !ValidKey(key) {
		return nil, ErrInvalidKey
	}
	e, err := v.backend.Get(ctx, v.prefix+key)
	if e == nil || err != nil {
		return nil, err
	}
	return &Entry{Key: key, Value: e.Value}, nil
}

func (v *View) Put(ctx context.Context, entry *Entry) error {
	if !ValidKey(entry.Key) {
		return ErrInvalidKey
	}
	return v.backend.Put(ctx, &Entry{Key: v.prefix + entry.Key, Value: entry.Value})
}

func (v *View) Delete(ctx context.Context, key string) error {
	if !ValidKey(key) {
		return ErrInvalidKey
	}
	return v.backend.Delete(ctx, v.prefix+key)
}

func (v *View) List(ctx context.Context, prefix string) ([]string, error) {
	return v.backend.List(ctx, v.prefix+prefix)
}

// ClearView deletes every key under the view, walking it depth first. It is
// used when a mount is disabled.
func ClearView(ctx context.Context, b Backend) error {
	return clearPrefix(ctx, b, "")
}

func clearPrefix(ctx context.Context, b Backend, prefix string) error {
	names, err := b.List(ctx, prefix)
	if err != nil {
		return err
	}
	for _, name := range names {
		if strings.HasSuffix(name, "/") {
			if err := clearPrefix(ctx, b, prefix+name); err != nil {
				return err
			}
			continue
		}
		if err := b.Delete(ctx, prefix+name); err != nil {
			return err
		}
	}
	return nil
}
