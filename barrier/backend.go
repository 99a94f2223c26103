package barrier

import (
	"context"
	"strings"

	"github.com/arca-secrets/arca/storage"
)

// ReservedPrefix holds the entries that live outside the barrier (the
// sealed keyring, the sealed root key, the seal configuration). The barrier
// refuses keys under it so that nothing encrypted can overwrite them.
const ReservedPrefix = "core/"

func reserved(key string) bool {
	return strings.HasPrefix(key, ReservedPrefix)
}

// Get decrypts the entry at key; (nil, nil) when there is none.
func (b *Barrier) Get(ctx context.Context, key string) (*storage.Entry, error) {
	if !storage.ValidKey(key) || reserved(key) {
		return nil, storage.ErrInvalidKey
	}
	b.mu.RLock()
	sealed := b.sealed
	b.mu.RUnlock()
	if sealed {
		return nil, ErrSealed
	}
	e, err := b.backend.Get(ctx, key)
	if err != nil || e == nil {
		return nil, err
	}
	plain, err := b.openAs(key, e.Value)
	if err != nil {
		return nil, err
	}
	return &storage.Entry{Key: key, Value: plain}, nil
}

// openAs opens ct, sealed for key by whichever term of the keyring.
func (b *Barrier) openAs(key string, ct []byte) ([]byte, error) {
	n, err := parseHeader(ct)
	if err != nil {
		return nil, err
	}
	b.mu.RLock()
	if b.sealed {
		b.mu.RUnlock()
		return nil, ErrSealed
	}
	t := b.terms[n]
	b.mu.RUnlock()
	if t == nil {
		return nil, ErrUnknownTerm
	}
	return open(t.aead, key, ct)
}

// activeTerm is the term new ciphertexts are sealed with.
func (b *Barrier) activeTerm() (*term, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.sealed {
		return nil, ErrSealed
	}
	return b.active, nil
}

// Put encrypts entry under the active term and writes it.
func (b *Barrier) Put(ctx context.Context, entry *storage.Entry) error {
	if !storage.ValidKey(entry.Key) || reserved(entry.Key) {
		return storage.ErrInvalidKey
	}
	t, err := b.activeTerm()
	if err != nil {
		return err
	}
	ct, err := seal(t, entry.Key, entry.Value)
	if err != nil {
		return err
	}
	return b.backend.Put(ctx, &storage.Entry{Key: entry.Key, Value: ct})
}

// Delete removes the entry at key.
func (b *Barrier) Delete(ctx context.Context, key string) error {
	if !storage.ValidKey(key) || reserved(key) {
		return storage.ErrInvalidKey
	}
	if b.Sealed() {
		return ErrSealed
	}
	return b.backend.Delete(ctx, key)
}

// List lists names under prefix. Names are not secret (they are paths), so
// they are not encrypted; this is the same trade-off Vault makes.
func (b *Barrier) List(ctx context.Context, prefix string) ([]string, error) {
	if b.Sealed() {
		return nil, ErrSealed
	}
	if reserved(prefix) {
		return nil, storage.ErrInvalidKey
	}
	names, err := b.backend.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	if prefix == "" {
		// Hide the reserved folder from a listing of the root.
		out := names[:0]
		for _, n := range names {
			if n != ReservedPrefix {
				out = append(out, n)
			}
		}
		names = out
	}
	return names, nil
}

var _ storage.Batcher = (*Barrier)(nil)

// WriteAll encrypts puts under the active term and writes them, with the
// deletes, in one step when the backend allows it.
func (b *Barrier) WriteAll(ctx context.Context, puts []*storage.Entry, deletes []string) error {
	t, err := b.activeTerm()
	if err != nil {
		return err
	}
	sealed := make([]*storage.Entry, len(puts))
	for i, e := range puts {
		if !storage.ValidKey(e.Key) || reserved(e.Key) {
			return storage.ErrInvalidKey
		}
		ct, err := seal(t, e.Key, e.Value)
		if err != nil {
			return err
		}
		sealed[i] = &storage.Entry{Key: e.Key, Value: ct}
	}
	for _, k := range deletes {
		if !storage.ValidKey(k) || reserved(k) {
			return storage.ErrInvalidKey
		}
	}
	return storage.WriteAll(ctx, b.backend, sealed, deletes)
}
