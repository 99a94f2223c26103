package storage

import "context"

// Batcher is implemented by backends that can write several entries and
// delete several keys as one durable step (one transaction, one fsync).
// The step is atomic where the backend is transactional (bbolt): all of it
// or none.
type Batcher interface {
	WriteAll(ctx context.Context, puts []*Entry, deletes []string) error
}

// WriteAll stores puts and removes deletes in one step when b is a
// Batcher, and one call at a time otherwise (puts first).
func WriteAll(ctx context.Context, b Backend, puts []*Entry, deletes []string) error {
	if bb, ok := b.(Batcher); ok {
		return bb.WriteAll(ctx, puts, deletes)
	}
	for _, e := range puts {
		if err := b.Put(ctx, e); err != nil {
			return err
		}
	}
	for _, k := range deletes {
		if err := b.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// PutAll writes entries in one step when the backend allows it.
func PutAll(ctx context.Context, b Backend, entries []*Entry) error {
	return WriteAll(ctx, b, entries, nil)
}

// WriteAll writes under the view's prefix in one step when the backend
// allows it.
func (v *View) WriteAll(ctx context.Context, puts []*Entry, deletes []string) error {
	scoped := make([]*Entry, len(puts))
	for i, e := range puts {
		if !ValidKey(e.Key) {
			return ErrInvalidKey
		}
		scoped[i] = &Entry{Key: v.prefix + e.Key, Value: e.Value}
	}
	keys := make([]string, len(deletes))
	for i, k := range deletes {
		if !ValidKey(k) {
			return ErrInvalidKey
		}
		keys[i] = v.prefix + k
	}
	return WriteAll(ctx, v.backend, scoped, keys)
}
