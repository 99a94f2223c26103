package barrier

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/arca-secrets/arca/storage"
)

// A detached ciphertext opens for its own purpose alone, after a
// rotation too (with the term that sealed it); it never passes for a
// stored entry, nor a stored entry for it; a sealed barrier opens none.
func TestDetached(t *testing.T) {
	ctx := context.Background()
	b, under := newUnsealed(t)
	ct, err := b.SealDetached("raft-snapshot-sums", []byte("sums"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := b.OpenDetached("raft-snapshot-sums", ct); err != nil || !bytes.Equal(got, []byte("sums")) {
		t.Fatalf("opening after a rotation: %q, %v", got, err)
	}
	if _, err := b.OpenDetached("other", ct); err == nil {
		t.Fatal("a detached ciphertext opened for another purpose")
	}
	// Planted in storage under any key, it does not read as an entry.
	for _, key := range []string{"raft-snapshot-sums", "detached/raft-snapshot-sums", "sys/x"} {
		if err := under.Put(ctx, &storage.Entry{Key: key, Value: ct}); err != nil {
			t.Fatal(err)
		}
		if e, err := b.Get(ctx, key); err == nil {
			t.Fatalf("a detached ciphertext read as the entry %s: %q", key, e.Value)
		}
	}
	if err := b.Put(ctx, &storage.Entry{Key: "sys/y", Value: []byte("sums")}); err != nil {
		t.Fatal(err)
	}
	stored, _ := under.Get(ctx, "sys/y")
	if _, err := b.OpenDetached("raft-snapshot-sums", stored.Value); err == nil {
		t.Fatal("a stored entry opened as a detached ciphertext")
	}
	b.Seal()
	if _, err := b.OpenDetached("raft-snapshot-sums", ct); !errors.Is(err, ErrSealed) {
		t.Fatalf("opening while sealed: %v, want ErrSealed", err)
	}
	if _, err := b.SealDetached("raft-snapshot-sums", []byte("x")); !errors.Is(err, ErrSealed) {
		t.Fatalf("sealing while sealed: %v, want ErrSealed", err)
	}
}
