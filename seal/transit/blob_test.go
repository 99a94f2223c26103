package transit

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/arca-secrets/arca/seal"
)

// TestBlobVectors pins the stored format: servers initialised today must
// unseal after any upgrade.
func TestBlobVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/blobs.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors []struct {
		Name       string `json:"name"`
		BlobHex    string `json:"blob_hex"`
		Ciphertext string `json:"ciphertext"`
		Error      bool   `json:"error"`
	}
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			blob, err := hex.DecodeString(v.BlobHex)
			if err != nil {
				t.Fatal(err)
			}
			ct, err := decodeBlob(blob)
			if v.Error {
				if !errors.Is(err, seal.ErrUnwrap) {
					t.Fatalf("got %q, %v; want ErrUnwrap", ct, err)
				}
				return
			}
			if err != nil || ct != v.Ciphertext {
				t.Fatalf("got %q, %v; want %q", ct, err, v.Ciphertext)
			}
			if got := hex.EncodeToString(encodeBlob(ct)); got != v.BlobHex {
				t.Fatalf("encode: got %s, want %s", got, v.BlobHex)
			}
		})
	}
}

func FuzzBlobRoundTrip(f *testing.F) {
	f.Add([]byte{blobV1}, "vault:v1:abc")
	f.Add([]byte{}, "vault:v3:JM/K+ok9OKKnmJmoo=")
	f.Fuzz(func(t *testing.T, blob []byte, ct string) {
		if got, err := decodeBlob(blob); err == nil {
			if again := encodeBlob(got); string(again) != string(blob) {
				t.Fatalf("decode then encode: got %x, want %x", again, blob)
			}
		} else if !errors.Is(err, seal.ErrUnwrap) {
			t.Fatalf("decode error %v does not match ErrUnwrap", err)
		}
		if checkCiphertext(ct) != nil {
			return
		}
		got, err := decodeBlob(encodeBlob(ct))
		if err != nil || got != ct {
			t.Fatalf("round trip of %q: got %q, %v", ct, got, err)
		}
	})
}
