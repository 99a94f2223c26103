package storage

import "context"

// Batcher is implemented by backends that can write several entries as
// one durable step (one transaction, one fsync). The write is atomic where
// the backend is transactional (bbolt): all entries or none.
type Batcher interface {
	PutAll(ctx context.Context, entries []*Entry) error
}

// PutAll writes entries with one PutAll when b is a Batcher, and one Put
// at a time otherwise.
func PutAll(ctx context.Context, b Backend, entries []*Entry) error {
	if bb, ok := b.(Batcher); ok {
		return bb.PutAll(ctx, entries)
	}
	for _, e := range entries {
		if err := b.Put(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// PutAll writes entries under the view's prefix in one step when the
// backend allows it.
func (v *View) PutAll(ctx context.Context, entries []*Entry) error {
	scoped := make([]*Entry, len(entries))
	for i, e := range entries {
		if !ValidKey(e.Key) {
			return ErrInvalidKey
		}
		scoped[i] = &Entry{Key: v.prefix + e.Key, Value: e.Value}
	}
	return PutAll(ctx, v.backend, scoped)
}
