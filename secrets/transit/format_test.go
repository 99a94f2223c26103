package transit

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

// TestCiphertextFormat opens the engine's ciphertexts independently, with
// the exported key: "vault:v<N>:" + base64(12-byte nonce | ciphertext |
// tag), the layout Vault uses, and HKDF-SHA256(key, no salt, info=context)
// for derived keys.
func TestCiphertextFormat(t *testing.T) {
	tests := []struct {
		name, typ string
		derived   bool
		keyLen    int
	}{
		{name: "aes256", typ: typeAES, keyLen: 32},
		{name: "aes128", typ: typeAES128, keyLen: 16},
		{name: "chacha", typ: typeChaCha, keyLen: 32},
		{name: "aes256 derived", typ: typeAES, derived: true, keyLen: 32},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.write("keys/k", map[string]any{"type": tc.typ, "derived": tc.derived, "exportable": true})
			key, err := base64.StdEncoding.DecodeString(h.read("export/encryption-key/k/1")["keys"].(map[string]any)["1"].(string))
			if err != nil || len(key) != tc.keyLen {
				t.Fatalf("exported key: got %d bytes (%v), want %d", len(key), err, tc.keyLen)
			}
			data := map[string]any{"plaintext": enc("interop")}
			if tc.derived {
				data["context"] = enc("ctx")
				if key, err = hkdf.Key(sha256.New, key, nil, "ctx", tc.keyLen); err != nil {
					t.Fatal(err)
				}
			}
			ct := h.write("encrypt/k", data)["ciphertext"].(string)
			n, raw, err := parseVersioned(ct)
			if err != nil || n != 1 {
				t.Fatalf("parse %q: version %d, %v", ct, n, err)
			}
			var a cipher.AEAD
			if tc.typ == typeChaCha {
				a, err = chacha20poly1305.New(key)
			} else {
				var b cipher.Block
				if b, err = aes.NewCipher(key); err == nil {
					a, err = cipher.NewGCM(b)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			pt, err := a.Open(nil, raw[:12], raw[12:], nil)
			if err != nil || string(pt) != "interop" {
				t.Fatalf("independent open: got (%q, %v), want %q", pt, err, "interop")
			}
			// And the other way: a ciphertext made outside opens inside.
			nonce := make([]byte, 12)
			outside := versioned(1, a.Seal(append([]byte(nil), nonce...), nonce, []byte("from outside"), nil))
			in := map[string]any{"ciphertext": outside}
			if tc.derived {
				in["context"] = enc("ctx")
			}
			if got := h.write("decrypt/k", in)["plaintext"]; got != enc("from outside") {
				t.Fatalf("decrypt of an outside ciphertext: got %v", got)
			}
		})
	}
}
