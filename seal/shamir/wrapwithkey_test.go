package shamir

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/seal"
)

// TestWrapWithKey: a root key wrapped with a given key opens with any
// quorum of that key's shares, or the key itself as the one share, and
// with nothing else.
func TestWrapWithKey(t *testing.T) {
	ctx := context.Background()
	s := New()
	key, root := make([]byte, barrier.KeySize), make([]byte, barrier.KeySize)
	for _, b := range [][]byte{key, root} {
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
	}
	wrapped, err := s.WrapWithKey(ctx, root, key)
	if err != nil {
		t.Fatal(err)
	}
	shares, err := Split(key, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, given := range [][][]byte{{shares[0], shares[2]}, {shares[2], shares[1]}, {key}} {
		got, err := s.Unwrap(ctx, wrapped, given)
		if err != nil || !bytes.Equal(got, root) {
			t.Fatalf("unwrap with %d shares: %v", len(given), err)
		}
	}
	other, err := Split(bytes.Repeat([]byte{7}, barrier.KeySize), 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Unwrap(ctx, wrapped, other[:2]); !errors.Is(err, seal.ErrUnwrap) {
		t.Fatalf("another key's shares: got %v, want ErrUnwrap", err)
	}
	if _, err := s.WrapWithKey(ctx, root, key[:16]); !errors.Is(err, seal.ErrInvalidShare) {
		t.Fatalf("a short key: got %v, want ErrInvalidShare", err)
	}
}
