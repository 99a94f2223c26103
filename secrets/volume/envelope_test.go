package volume

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// TestWrapVectors opens wrapped forms made by another implementation of
// AES-256-GCM (testdata/wrap_vectors.json, from Python's cryptography), so
// the format is pinned: prefix, version, nonce first, associated data.
func TestWrapVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/wrap_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors []struct {
		Key        string `json:"key_b64"`
		Name       string `json:"name"`
		Version    int    `json:"version"`
		Wrapped    string `json:"wrapped"`
		Passphrase string `json:"passphrase_hex"`
	}
	if err := json.Unmarshal(raw, &vectors); err != nil || len(vectors) == 0 {
		t.Fatalf("vectors: %v (%d)", err, len(vectors))
	}
	for _, v := range vectors {
		kb, _ := base64.StdEncoding.DecodeString(v.Key)
		k := kek{b: kb}
		n, body, err := parseWrapped(v.Wrapped)
		if err != nil || n != v.Version {
			t.Fatalf("%s: parse: version %d, %v", v.Name, n, err)
		}
		pt, err := k.unwrap(v.Name, n, body)
		if err != nil || hex.EncodeToString(pt) != v.Passphrase {
			t.Fatalf("%s: unwrap: got %x, %v; want %s", v.Name, pt, err, v.Passphrase)
		}
		// Our own wrapping of the same passphrase opens too, and only
		// with the same name and version.
		w, err := k.wrap(v.Name, v.Version, pt)
		if err != nil {
			t.Fatal(err)
		}
		_, body, _ = parseWrapped(w)
		if _, err := k.unwrap(v.Name, v.Version, body); err != nil {
			t.Fatalf("%s: own wrapping: %v", v.Name, err)
		}
		if _, err := k.unwrap(v.Name+"x", v.Version, body); err != ErrNoOpen {
			t.Fatalf("%s: other name: got %v, want ErrNoOpen", v.Name, err)
		}
		if _, err := k.unwrap(v.Name, v.Version+1, body); err != ErrNoOpen {
			t.Fatalf("%s: other version: got %v, want ErrNoOpen", v.Name, err)
		}
	}
}
