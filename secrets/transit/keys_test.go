package transit

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/arca-secrets/arca/logical"
)

func TestKeyTypes(t *testing.T) {
	tests := []struct {
		name, typ        string
		encrypt, signing bool
		publicKey        bool
		publicKeyName    string
	}{
		{name: "default", typ: "", encrypt: true},
		{name: "aes", typ: typeAES, encrypt: true},
		{name: "aes128", typ: typeAES128, encrypt: true},
		{name: "chacha", typ: typeChaCha, encrypt: true},
		{name: "ed25519", typ: typeEd25519, signing: true, publicKey: true, publicKeyName: "ed25519"},
		{name: "p256", typ: typeECDSAP256, signing: true, publicKey: true, publicKeyName: "P-256"},
		{name: "p384", typ: typeECDSAP384, signing: true, publicKey: true, publicKeyName: "P-384"},
		{name: "p521", typ: typeECDSAP521, signing: true, publicKey: true, publicKeyName: "P-521"},
		{name: "rsa3072", typ: typeRSA3072, signing: true, publicKey: true, publicKeyName: "rsa-3072"},
		{name: "rsa2048", typ: typeRSA2048, signing: true, publicKey: true, publicKeyName: "rsa-2048"},
		{name: "rsa4096", typ: typeRSA4096, signing: true, publicKey: true, publicKeyName: "rsa-4096"},
		{name: "hmac", typ: typeHMAC},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.typ == typeRSA4096 || tc.typ == typeRSA3072) && testing.Short() {
				t.Skip("RSA-4096 generation is slow")
			}
			h := newHarness(t)
			h.write("keys/k", map[string]any{"type": tc.typ})
			d := h.read("keys/k")
			want := tc.typ
			if want == "" {
				want = typeAES
			}
			if d["type"] != want || d["latest_version"] != 1 || d["min_decryption_version"] != 1 || d["deletion_allowed"] != false {
				t.Fatalf("read: got %v", d)
			}
			if d["supports_encryption"] != tc.encrypt || d["supports_decryption"] != tc.encrypt || d["supports_signing"] != tc.signing {
				t.Fatalf("supports_*: got %v", d)
			}
			v1 := d["keys"].(map[string]any)["1"]
			if !tc.publicKey {
				if want := h.clock.Now().Unix(); v1 != want {
					t.Fatalf("keys[1]: got %v, want the creation time %d", v1, want)
				}
				return
			}
			m := v1.(map[string]any)
			if m["name"] != tc.publicKeyName {
				t.Fatalf("keys[1].name: got %v, want %s", m["name"], tc.publicKeyName)
			}
			checkPublicKey(t, tc.typ, m["public_key"].(string))
		})
	}
	h := newHarness(t)
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "keys/k", map[string]any{"type": "aes128-gcm97"})
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "keys/k", map[string]any{"derived": true, "convergent_encryption": true})
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "encrypt/k", map[string]any{"plaintext": enc("x"), "convergent_encryption": true})
	if r, err := h.do(logical.ReadOperation, "keys/k", nil); err != nil || r != nil {
		t.Fatalf("read of a key refused at creation: got (%v, %v), want (nil, nil)", r, err)
	}
}

func checkPublicKey(t *testing.T, typ, text string) {
	t.Helper()
	if typ == typeEd25519 {
		b, err := base64.StdEncoding.DecodeString(text)
		if err != nil || len(b) != ed25519.PublicKeySize {
			t.Fatalf("ed25519 public key: got %q, want base64 of 32 bytes", text)
		}
		return
	}
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		t.Fatalf("public key: got %q, want PEM", text)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	switch pub.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey:
	default:
		t.Fatalf("public key type %T", pub)
	}
}

func TestListAndCreateIsIdempotent(t *testing.T) {
	h := newHarness(t)
	if r, err := h.do(logical.ListOperation, "keys", nil); err != nil || r != nil {
		t.Fatalf("empty list: got (%v, %v), want (nil, nil)", r, err)
	}
	h.write("keys/b", nil)
	ct := h.encrypt("b", "kept")
	h.write("keys/b", map[string]any{"type": typeChaCha}) // exists: no change
	h.write("keys/a", map[string]any{"type": typeEd25519})
	if got := h.must(logical.ListOperation, "keys/", nil)["keys"].([]string); strings.Join(got, ",") != "a,b" {
		t.Fatalf("list: got %v, want [a b]", got)
	}
	if got := h.decrypt("b", ct); got != "kept" {
		t.Fatalf("after a second create: got %q, want %q", got, "kept")
	}
}

func TestDeleteOnlyWhenAllowed(t *testing.T) {
	h := newHarness(t)
	h.write("keys/k", nil)
	ct := h.encrypt("k", "x")
	h.fails(logical.ErrInvalidRequest, logical.DeleteOperation, "keys/k", nil)
	if got := h.decrypt("k", ct); got != "x" {
		t.Fatal("a refused delete damaged the key")
	}
	h.write("keys/k/config", map[string]any{"deletion_allowed": true})
	h.must(logical.DeleteOperation, "keys/k", nil)
	if r := h.read("keys/k"); r != nil {
		t.Fatalf("read after delete: got %v, want nothing", r)
	}
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "decrypt/k", map[string]any{"ciphertext": ct})
	// A fresh engine on the same storage does not see it either.
	h2 := &harness{t: t, e: must(Factory(t.Context(), logical.MountConfig{})), st: h.st}
	if r := h2.read("keys/k"); r != nil {
		t.Fatalf("read after delete from a new engine: got %v", r)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestConfig(t *testing.T) {
	h := newHarness(t)
	h.write("keys/k", nil)
	h.write("keys/k/rotate", nil)
	h.write("keys/k/config", map[string]any{"min_decryption_version": 2, "min_encryption_version": 2, "allow_plaintext_backup": true, "auto_rotate_period": "24h"})
	d := h.read("keys/k")
	if d["min_decryption_version"] != 2 || d["min_encryption_version"] != 2 || d["allow_plaintext_backup"] != true || d["auto_rotate_period"] != int64(86400) {
		t.Fatalf("after config: got %v", d)
	}
	bad := []map[string]any{
		{"min_encryption_version": 1},     // below min_decryption_version
		{"min_decryption_version": 3},     // above latest
		{"deletion_allowed": "maybe"},     // not a boolean
		{"auto_rotate_period": "10m"},     // under an hour
		{"min_decryption_version": "two"}, // not a number
	}
	for _, data := range bad {
		h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "keys/k/config", data)
	}
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "keys/missing/config", map[string]any{"deletion_allowed": true})
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "keys/missing/rotate", nil)
}

func TestTrim(t *testing.T) {
	h := newHarness(t)
	h.write("keys/k", map[string]any{"exportable": true})
	for range 3 {
		h.write("keys/k/rotate", nil)
	}
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "keys/k/trim", map[string]any{"min_available_version": 3}) // above min_decryption_version
	h.write("keys/k/config", map[string]any{"min_decryption_version": 3})
	h.write("keys/k/trim", map[string]any{"min_available_version": 3})
	keys := h.read("keys/k")["keys"].(map[string]any)
	if len(keys) != 2 || keys["3"] == nil || keys["4"] == nil {
		t.Fatalf("after trim: got versions %v, want 3 and 4", keys)
	}
	if got := len(h.read("export/encryption-key/k")["keys"].(map[string]any)); got != 2 {
		t.Fatalf("export after trim: got %d versions, want 2", got)
	}
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "keys/k/trim", map[string]any{"min_available_version": 2})
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "keys/k/trim", map[string]any{})
}

// A key is rotated by its first use once its latest version is
// auto_rotate_period old, and the period counts again from that version.
func TestAutoRotateOnUse(t *testing.T) {
	h := newHarness(t)
	h.write("keys/a", map[string]any{"auto_rotate_period": "1h"})
	encrypt := func(when string, want int) {
		t.Helper()
		if got := h.write("encrypt/a", map[string]any{"plaintext": enc("x")})["key_version"]; got != want {
			t.Fatalf("%s: got version %v, want %d", when, got, want)
		}
	}
	encrypt("at creation", 1)
	h.clock.Advance(time.Hour - time.Second)
	encrypt("a second before the period", 1)
	h.clock.Advance(time.Second)
	rotatedAt := h.clock.Now().Unix()
	for range 2 { // the second use must not rotate again
		encrypt("at the period", 2)
	}
	if got := h.read("keys/a")["keys"].(map[string]any)["2"]; got != rotatedAt {
		t.Fatalf("version 2 created at %v, want %d (the clock at the use that rotated)", got, rotatedAt)
	}
	h.clock.Advance(time.Hour - time.Second)
	encrypt("a second before the next period", 2)
	h.clock.Advance(time.Second)
	encrypt("at the next period", 3)
}

func TestRoutes(t *testing.T) {
	h := newHarness(t)
	h.write("keys/k", nil)
	h.fails(logical.ErrUnsupportedPath, logical.ReadOperation, "nothing/here", nil)
	h.fails(logical.ErrUnsupportedPath, logical.UpdateOperation, "keys/k/unknown", nil)
	h.fails(logical.ErrUnsupportedOperation, logical.ReadOperation, "encrypt/k", nil)
	h.fails(logical.ErrUnsupportedOperation, logical.DeleteOperation, "keys/k/rotate", nil)
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "keys/..", nil)
}
