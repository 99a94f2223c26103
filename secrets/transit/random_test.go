package transit

import (
	"encoding/base64"
	"encoding/hex"
	"testing"

	"github.com/arca-secrets/arca/logical"
)

func TestRandom(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name, path string
		data       map[string]any
		wantLen    int
		hex        bool
	}{
		{name: "default", path: "random", wantLen: 32},
		{name: "bytes in path", path: "random/16", wantLen: 16},
		{name: "source and bytes", path: "random/platform/48", wantLen: 48},
		{name: "bytes in body, hex", path: "random", data: map[string]any{"bytes": 10, "format": "hex"}, wantLen: 10, hex: true},
		{name: "max", path: "random/all/1048576", wantLen: 1 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := h.write(tc.path, tc.data)["random_bytes"].(string)
			var b []byte
			var err error
			if tc.hex {
				b, err = hex.DecodeString(s)
			} else {
				b, err = base64.StdEncoding.DecodeString(s)
			}
			if err != nil || len(b) != tc.wantLen {
				t.Fatalf("got %d bytes (%v), want %d", len(b), err, tc.wantLen)
			}
		})
	}
	if a, b := h.write("random", nil)["random_bytes"], h.write("random", nil)["random_bytes"]; a == b {
		t.Fatal("two random answers are equal")
	}
	for _, path := range []string{"random/0", "random/1048577", "random/seal/8", "random/x/y", "random/a/b/c"} {
		t.Run(path, func(t *testing.T) {
			if _, err := h.do(logical.UpdateOperation, path, nil); err == nil {
				t.Fatalf("%s: got no error", path)
			}
		})
	}
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "random", map[string]any{"format": "octal"})
}

func TestHash(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name, path string
		data       map[string]any
		want       string
	}{
		{name: "sha2-256 hex", path: "hash", data: map[string]any{"input": enc("abc")},
			want: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{name: "sha2-512 in path", path: "hash/sha2-512", data: map[string]any{"input": enc("abc")},
			want: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
		{name: "sha3-256", path: "hash", data: map[string]any{"input": enc("abc"), "algorithm": "sha3-256"},
			want: "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"},
		{name: "base64", path: "hash", data: map[string]any{"input": enc(""), "format": "base64"},
			want: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := h.write(tc.path, tc.data)["sum"]; got != tc.want {
				t.Fatalf("got %v, want %s", got, tc.want)
			}
		})
	}
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "hash/md5", map[string]any{"input": enc("abc")})
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "hash", map[string]any{"input": "%"})
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "hash", nil)
}
