package pkcs11_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/arca-secrets/arca/internal/softhsmtest"
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/seal/pkcs11"
)

// vector is a known answer: the token key, the root key, and the root
// key as the seal wraps it with that key.
type vector struct {
	Name    string `json:"name"`
	Key     string `json:"key"`
	RootKey string `json:"root_key"`
	Wrapped string `json:"wrapped"`
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openWithGo opens an AES-GCM wrapping with the key in Go, by the format
// the package documents: [1 | 1 | nonce(12) | ciphertext and tag], the
// header after "arca seal pkcs11" as associated data.
func openWithGo(t *testing.T, key, wrapped []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	if len(wrapped) < 2+12 || wrapped[0] != 1 || wrapped[1] != 1 {
		t.Fatalf("header % x, want 01 01", wrapped[:2])
	}
	plain, err := gcm.Open(nil, wrapped[2:14], wrapped[14:], append([]byte("arca seal pkcs11"), wrapped[:2]...))
	if err != nil {
		t.Fatalf("the wrapping does not open in Go: %v", err)
	}
	return plain
}

// TestKnownAnswers pins the AES-GCM format: the vectors in testdata open
// through the token, and what the token wraps opens in Go.
func TestKnownAnswers(t *testing.T) {
	ctx := context.Background()
	raw, err := os.ReadFile(filepath.Join("testdata", "aes-gcm-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vectors []vector
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	tk := softhsmtest.New(t, "arca-kat")
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			key, root, wrapped := unhex(t, v.Key), unhex(t, v.RootKey), unhex(t, v.Wrapped)
			if got := openWithGo(t, key, wrapped); !bytes.Equal(got, root) {
				t.Fatal("the vector does not hold its root key")
			}
			tk.ImportAESKey(t, v.Name, key)
			conf := config(tk, v.Name, pkcs11.AESGCM)
			conf.GenerateKey = false
			s := open(t, conf)
			got, err := s.Unwrap(ctx, wrapped, nil)
			if err != nil || !bytes.Equal(got, root) {
				t.Fatalf("unwrap through the token: %v", err)
			}
			w, _, err := s.Wrap(ctx, root, seal.Split{})
			if err != nil {
				t.Fatal(err)
			}
			if got := openWithGo(t, key, w); !bytes.Equal(got, root) {
				t.Fatal("the token's wrapping opens in Go to another key")
			}
		})
	}
}

// TestMalformed: bytes that are not a wrapping of this seal fail with
// ErrUnwrap, before or inside the token.
func TestMalformed(t *testing.T) {
	ctx := context.Background()
	raw, err := os.ReadFile(filepath.Join("testdata", "aes-gcm-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vectors []vector
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	v := vectors[0]
	wrapped := unhex(t, v.Wrapped)
	tk := softhsmtest.New(t, "arca-malformed")
	tk.ImportAESKey(t, "k", unhex(t, v.Key))
	conf := config(tk, "k", pkcs11.AESGCM)
	conf.GenerateKey = false
	s := open(t, conf)
	otherVersion := bytes.Clone(wrapped)
	otherVersion[0] = 2
	rsaHeader := bytes.Clone(wrapped)
	rsaHeader[1] = 3
	for name, b := range map[string][]byte{
		"empty":          nil,
		"header only":    wrapped[:2],
		"no tag":         wrapped[:2+12+8],
		"other version":  otherVersion,
		"RSA header":     rsaHeader,
		"other vector":   unhex(t, vectors[1].Wrapped),
		"trailing bytes": append(bytes.Clone(wrapped), 0),
	} {
		if _, err := s.Unwrap(ctx, b, nil); !errors.Is(err, seal.ErrUnwrap) {
			t.Errorf("%s: got %v, want ErrUnwrap", name, err)
		}
	}
}
