package shamir

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/seal/sealtest"
)

func TestSealConformance(t *testing.T) {
	sealtest.Run(t, New())
}

func TestSealSplits(t *testing.T) {
	ctx := context.Background()
	root := bytes.Repeat([]byte{7}, 32)
	tests := []struct {
		name     string
		split    seal.Split
		shareLen int
	}{
		{"one share is the unseal key", seal.Split{Shares: 1, Threshold: 1}, 32},
		{"2 of 2", seal.Split{Shares: 2, Threshold: 2}, 33},
		{"2 of 3", seal.Split{Shares: 3, Threshold: 2}, 33},
		{"255 of 255", seal.Split{Shares: 255, Threshold: 255}, 33},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			w, shares, err := s.Wrap(ctx, root, tc.split)
			if err != nil {
				t.Fatal(err)
			}
			if len(shares) != tc.split.Shares {
				t.Fatalf("got %d shares, want %d", len(shares), tc.split.Shares)
			}
			for i, sh := range shares {
				if len(sh) != tc.shareLen {
					t.Fatalf("share %d: got %d bytes, want %d", i, len(sh), tc.shareLen)
				}
				if err := s.CheckShare(sh, tc.split); err != nil {
					t.Fatalf("CheckShare(share %d): %v", i, err)
				}
			}
			got, err := s.Unwrap(ctx, w, shares[len(shares)-tc.split.Threshold:])
			if err != nil || !bytes.Equal(got, root) {
				t.Fatalf("Unwrap: got err %v, want the root key", err)
			}
			if tc.split.Threshold > 1 {
				if _, err := s.Unwrap(ctx, w, shares[:tc.split.Threshold-1]); !errors.Is(err, seal.ErrUnwrap) {
					t.Fatalf("one share short: got %v, want ErrUnwrap", err)
				}
			}
		})
	}
}

func TestSealRefusesBadSplits(t *testing.T) {
	for _, nk := range [][2]int{{0, 0}, {-1, 1}, {256, 2}, {3, 0}, {3, 4}, {3, 1}} {
		split := seal.Split{Shares: nk[0], Threshold: nk[1]}
		if _, _, err := New().Wrap(context.Background(), make([]byte, 32), split); !errors.Is(err, seal.ErrInvalidSplit) {
			t.Errorf("%+v: got %v, want ErrInvalidSplit", split, err)
		}
	}
}

func TestCheckShare(t *testing.T) {
	tests := []struct {
		name  string
		len   int
		split seal.Split
		ok    bool
	}{
		{"key for threshold 1", 32, seal.Split{Shares: 1, Threshold: 1}, true},
		{"share for threshold 1", 33, seal.Split{Shares: 1, Threshold: 1}, false},
		{"share for threshold 3", 33, seal.Split{Shares: 5, Threshold: 3}, true},
		{"key for threshold 3", 32, seal.Split{Shares: 5, Threshold: 3}, false},
		{"empty", 0, seal.Split{Shares: 5, Threshold: 3}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := New().CheckShare(make([]byte, tc.len), tc.split)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, seal.ErrInvalidShare)) {
				t.Fatalf("got %v, want ok=%v or ErrInvalidShare", err, tc.ok)
			}
		})
	}
}

// TestPreInterfaceVectors opens root keys that core wrapped before the seal
// interface existed (testdata/pre-interface.json): servers initialised
// then must still unseal.
func TestPreInterfaceVectors(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "pre-interface.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vectors []struct {
		Name    string   `json:"name"`
		Shares  []string `json:"shares"`
		Wrapped string   `json:"wrapped"`
		RootKey string   `json:"root_key"`
	}
	if err := json.Unmarshal(b, &vectors); err != nil {
		t.Fatal(err)
	}
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			var shares [][]byte
			for _, s := range v.Shares {
				shares = append(shares, unhex(s))
			}
			got, err := New().Unwrap(context.Background(), unhex(v.Wrapped), shares)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, unhex(v.RootKey)) {
				t.Fatal("got a different root key")
			}
		})
	}
}
