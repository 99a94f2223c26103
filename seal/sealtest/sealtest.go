// Package sealtest is the conformance suite every seal.Seal passes: Run it
// from the seal's own tests (Shamir now, PKCS#11 and transit later).
package sealtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/arca-secrets/arca/seal"
)

// split is what Run asks seals that need people for.
var split = seal.Split{Shares: 5, Threshold: 3}

// Run checks s against the seal.Seal contract.
func Run(t *testing.T, s seal.Seal) {
	t.Helper()
	t.Run("Type", func(t *testing.T) {
		if s.Type() == "" {
			t.Fatal("Type is empty")
		}
	})
	t.Run("Health", func(t *testing.T) {
		if err := s.Health(context.Background()); err != nil {
			t.Fatalf("Health: %v", err)
		}
	})
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, s) })
	t.Run("EachWrapIsNew", func(t *testing.T) { testEachWrapIsNew(t, s) })
	t.Run("Tampered", func(t *testing.T) { testTampered(t, s) })
	if !s.AutoUnseal() {
		t.Run("Shares", func(t *testing.T) { testShares(t, s) })
	}
}

func rootKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// quorum is the shares Unwrap needs: the first Threshold of them, or none
// for a seal that unseals by itself.
func quorum(s seal.Seal, shares [][]byte) [][]byte {
	if s.AutoUnseal() {
		return nil
	}
	return shares[:split.Threshold]
}

func wrap(t *testing.T, s seal.Seal, root []byte) ([]byte, [][]byte) {
	t.Helper()
	w, shares, err := s.Wrap(context.Background(), root, split)
	if err != nil {
		t.Fatalf("Wrap: %v", err)
	}
	switch {
	case s.AutoUnseal() && len(shares) != 0:
		t.Fatalf("a seal that unseals by itself returned %d shares, want none", len(shares))
	case !s.AutoUnseal() && len(shares) != split.Shares:
		t.Fatalf("got %d shares, want %d", len(shares), split.Shares)
	}
	return w, shares
}

func testRoundTrip(t *testing.T, s seal.Seal) {
	root := rootKey(t)
	w, shares := wrap(t, s, root)
	if bytes.Contains(w, root) {
		t.Fatal("the wrapped bytes contain the root key")
	}
	for i, sh := range shares {
		if bytes.Contains(sh, root) {
			t.Fatalf("share %d contains the root key", i)
		}
	}
	got, err := s.Unwrap(context.Background(), w, quorum(s, shares))
	if err != nil {
		t.Fatalf("Unwrap: %v", err)
	}
	if !bytes.Equal(got, root) {
		t.Fatal("Unwrap returned a different root key")
	}
}

func testEachWrapIsNew(t *testing.T, s seal.Seal) {
	root := rootKey(t)
	w1, _ := wrap(t, s, root)
	w2, _ := wrap(t, s, root)
	if bytes.Equal(w1, w2) {
		t.Fatal("two wraps of one root key are equal")
	}
}

func testTampered(t *testing.T, s seal.Seal) {
	w, shares := wrap(t, s, rootKey(t))
	for _, i := range []int{0, len(w) / 2, len(w) - 1} {
		bad := bytes.Clone(w)
		bad[i] ^= 0x01
		if _, err := s.Unwrap(context.Background(), bad, quorum(s, shares)); !errors.Is(err, seal.ErrUnwrap) {
			t.Fatalf("byte %d flipped: got %v, want ErrUnwrap", i, err)
		}
	}
	if _, err := s.Unwrap(context.Background(), w[:len(w)/2], quorum(s, shares)); !errors.Is(err, seal.ErrUnwrap) {
		t.Fatalf("truncated: got %v, want ErrUnwrap", err)
	}
}

// testShares checks a seal that needs people: any quorum opens, fewer or
// foreign shares do not, and the errors carry no share bytes.
func testShares(t *testing.T, s seal.Seal) {
	ctx := context.Background()
	root := rootKey(t)
	w, shares := wrap(t, s, root)
	for _, q := range [][]int{{0, 1, 2}, {4, 2, 0}, {1, 3, 4}, {0, 1, 2, 3, 4}} {
		var given [][]byte
		for _, i := range q {
			given = append(given, shares[i])
		}
		got, err := s.Unwrap(ctx, w, given)
		if err != nil || !bytes.Equal(got, root) {
			t.Fatalf("shares %v: got err %v, want the root key", q, err)
		}
	}
	if _, err := s.Unwrap(ctx, w, shares[:split.Threshold-1]); !errors.Is(err, seal.ErrUnwrap) {
		t.Fatalf("below threshold: got %v, want ErrUnwrap", err)
	}
	if _, err := s.Unwrap(ctx, w, nil); !errors.Is(err, seal.ErrUnwrap) {
		t.Fatalf("no shares: got %v, want ErrUnwrap", err)
	}
	_, other := wrap(t, s, root)
	mixed := [][]byte{shares[0], shares[1], other[2]}
	_, err := s.Unwrap(ctx, w, mixed)
	if !errors.Is(err, seal.ErrUnwrap) {
		t.Fatalf("a share of another wrap: got %v, want ErrUnwrap", err)
	}
	for _, sh := range append(shares, other...) {
		msg := err.Error()
		if strings.Contains(msg, string(sh)) || strings.Contains(msg, hex.EncodeToString(sh)) || strings.Contains(msg, base64.StdEncoding.EncodeToString(sh)) {
			t.Fatal("the error carries a share")
		}
	}
	if _, _, err := s.Wrap(ctx, root, seal.Split{Shares: 2, Threshold: 3}); !errors.Is(err, seal.ErrInvalidSplit) {
		t.Fatalf("threshold above shares: got %v, want ErrInvalidSplit", err)
	}
	if c, ok := s.(seal.ShareChecker); ok {
		for i, sh := range shares {
			if err := c.CheckShare(sh, split); err != nil {
				t.Fatalf("CheckShare of share %d: %v", i, err)
			}
		}
		if err := c.CheckShare(shares[0][:len(shares[0])-1], split); !errors.Is(err, seal.ErrInvalidShare) {
			t.Fatalf("CheckShare of a short share: got %v, want ErrInvalidShare", err)
		}
	}
}
