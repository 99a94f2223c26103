package transit

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/arca-secrets/arca/logical"
)

func TestRewrapAfterRotate(t *testing.T) {
	h := newHarness(t)
	h.write("keys/k", nil)
	old := h.encrypt("k", "payload")
	h.write("keys/k/rotate", nil)
	h.write("keys/k/rotate", nil)
	out := h.write("rewrap/k", map[string]any{"ciphertext": old})
	ct := out["ciphertext"].(string)
	if !strings.HasPrefix(ct, "vault:v3:") || out["key_version"] != 3 {
		t.Fatalf("rewrap: got %v, want version 3", out)
	}
	if got := h.decrypt("k", ct); got != "payload" {
		t.Fatalf("decrypt of the rewrapped ciphertext: got %q, want %q", got, "payload")
	}
	if got := h.encrypt("k", "new"); !strings.HasPrefix(got, "vault:v3:") {
		t.Fatalf("encrypt after two rotations: got %q, want vault:v3:", got)
	}
	// key_version picks an older version, within min_encryption_version.
	if got := h.write("encrypt/k", map[string]any{"plaintext": enc("x"), "key_version": 2})["key_version"]; got != 2 {
		t.Fatalf("encrypt with key_version 2: got version %v", got)
	}
	h.write("keys/k/config", map[string]any{"min_encryption_version": 3})
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "encrypt/k", map[string]any{"plaintext": enc("x"), "key_version": 2})
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "encrypt/k", map[string]any{"plaintext": enc("x"), "key_version": 4})
}

func TestMinDecryptionVersion(t *testing.T) {
	h := newHarness(t)
	h.write("keys/k", nil)
	v1 := h.encrypt("k", "old")
	h.write("keys/k/rotate", nil)
	v2 := h.encrypt("k", "new")
	h.write("keys/k/config", map[string]any{"min_decryption_version": 2})
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "decrypt/k", map[string]any{"ciphertext": v1})
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "rewrap/k", map[string]any{"ciphertext": v1})
	if got := h.decrypt("k", v2); got != "new" {
		t.Fatalf("got %q, want %q", got, "new")
	}
	// Lowering it again makes v1 readable: nothing was deleted...
	h.write("keys/k/config", map[string]any{"min_decryption_version": 1})
	if got := h.decrypt("k", v1); got != "old" {
		t.Fatalf("got %q, want %q", got, "old")
	}
	// ...until trim.
	h.write("keys/k/config", map[string]any{"min_decryption_version": 2})
	h.write("keys/k/trim", map[string]any{"min_available_version": 2})
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "keys/k/config", map[string]any{"min_decryption_version": 1})
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "keys/k/config", map[string]any{"min_decryption_version": 3})
}

func TestDatakey(t *testing.T) {
	h := newHarness(t)
	h.write("keys/k", nil)
	for _, bits := range []int{128, 256, 512} {
		w := h.write("datakey/wrapped/k", map[string]any{"bits": bits})
		if _, ok := w["plaintext"]; ok {
			t.Fatal("wrapped datakey carries the plaintext")
		}
		key, err := base64.StdEncoding.DecodeString(h.write("decrypt/k", map[string]any{"ciphertext": w["ciphertext"]})["plaintext"].(string))
		if err != nil || len(key) != bits/8 {
			t.Fatalf("decrypted datakey: got %d bytes (%v), want %d", len(key), err, bits/8)
		}
	}
	p := h.write("datakey/plaintext/k", nil)
	if got := h.write("decrypt/k", map[string]any{"ciphertext": p["ciphertext"]})["plaintext"]; got != p["plaintext"] {
		t.Fatalf("plaintext datakey: decrypt gives %v, want the returned plaintext", got)
	}
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "datakey/plaintext/k", map[string]any{"bits": 64})
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "datakey/other/k", nil)
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "datakey/wrapped/missing", nil)
}

func TestBatch(t *testing.T) {
	h := newHarness(t)
	h.write("keys/k", nil)
	out := h.write("encrypt/k", map[string]any{"batch_input": []any{
		map[string]any{"plaintext": enc("one"), "reference": "a"},
		map[string]any{"plaintext": "not base64!"},
		map[string]any{"plaintext": enc("three")},
	}})
	res := out["batch_results"].([]any)
	if len(res) != 3 {
		t.Fatalf("got %d results, want 3", len(res))
	}
	bad := res[1].(map[string]any)
	if msg, _ := bad["error"].(string); !strings.Contains(msg, "plaintext") || bad["ciphertext"] != nil {
		t.Fatalf("bad item: got %v, want an error naming plaintext", bad)
	}
	if ref := res[0].(map[string]any)["reference"]; ref != "a" {
		t.Fatalf("reference: got %v, want a", ref)
	}
	var cts []any
	for i, want := range map[int]string{0: "one", 2: "three"} {
		ct := res[i].(map[string]any)["ciphertext"].(string)
		if got := h.decrypt("k", ct); got != want {
			t.Fatalf("item %d: got %q, want %q", i, got, want)
		}
		cts = append(cts, map[string]any{"ciphertext": ct})
	}
	cts = append(cts, map[string]any{"ciphertext": "vault:v1:AAAA"})
	dec := h.write("decrypt/k", map[string]any{"batch_input": cts})["batch_results"].([]any)
	if dec[2].(map[string]any)["error"] == nil || dec[0].(map[string]any)["plaintext"] == nil {
		t.Fatalf("decrypt batch: got %v, want two plaintexts and an error", dec)
	}
	for _, in := range []any{"x", []any{}, []any{"x"}} {
		h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "encrypt/k", map[string]any{"batch_input": in})
	}
}

func TestDerivedKeys(t *testing.T) {
	h := newHarness(t)
	h.write("keys/d", map[string]any{"derived": true})
	if got := h.read("keys/d")["kdf"]; got != "hkdf_sha256" {
		t.Fatalf("kdf: got %v, want hkdf_sha256", got)
	}
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "encrypt/d", map[string]any{"plaintext": enc("x")})
	a := h.write("encrypt/d", map[string]any{"plaintext": enc("x"), "context": enc("tenant-a")})["ciphertext"]
	b := h.write("encrypt/d", map[string]any{"plaintext": enc("x"), "context": enc("tenant-b")})["ciphertext"]
	if a == b {
		t.Fatal("ciphertexts under two contexts are equal")
	}
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "decrypt/d", map[string]any{"ciphertext": a, "context": enc("tenant-b")})
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "decrypt/d", map[string]any{"ciphertext": a})
	for ct, c := range map[any]string{a: "tenant-a", b: "tenant-b"} {
		if pt := h.write("decrypt/d", map[string]any{"ciphertext": ct, "context": enc(c)})["plaintext"]; pt != enc("x") {
			t.Fatalf("derived round trip under %s: got %v", c, pt)
		}
	}
	// A context on a key without derivation is a mistake, not ignored.
	h.write("keys/plain", nil)
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "encrypt/plain", map[string]any{"plaintext": enc("x"), "context": enc("c")})
	// The first encrypt with a context creates a derived key.
	h.write("encrypt/auto", map[string]any{"plaintext": enc("x"), "context": enc("c")})
	if got := h.read("keys/auto")["derived"]; got != true {
		t.Fatalf("key created by an encrypt with context: derived %v, want true", got)
	}
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "keys/ed", map[string]any{"type": typeEd25519, "derived": true})
}

func TestAssociatedData(t *testing.T) {
	h := newHarness(t)
	ct := h.write("encrypt/k", map[string]any{"plaintext": enc("x"), "associated_data": enc("row 7")})["ciphertext"]
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "decrypt/k", map[string]any{"ciphertext": ct, "associated_data": enc("row 8")})
	if got := h.write("decrypt/k", map[string]any{"ciphertext": ct, "associated_data": enc("row 7")})["plaintext"]; got != enc("x") {
		t.Fatalf("got %v, want %v", got, enc("x"))
	}
}

// TestTamperEveryByte flips one bit of each byte of a ciphertext (nonce,
// sealed data and tag): every one must fail, with no plaintext in the
// error.
func TestTamperEveryByte(t *testing.T) {
	for _, typ := range []string{typeAES, typeChaCha} {
		t.Run(typ, func(t *testing.T) {
			h := newHarness(t)
			h.write("keys/k", map[string]any{"type": typ})
			ct := h.encrypt("k", "top secret")
			n, raw, err := parseVersioned(ct)
			if err != nil {
				t.Fatal(err)
			}
			for i := range raw {
				bad := append([]byte(nil), raw...)
				bad[i] ^= 0x01
				err := h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "decrypt/k", map[string]any{"ciphertext": versioned(n, bad)})
				if strings.Contains(err.Error(), "top secret") {
					t.Fatalf("byte %d: the error holds the plaintext", i)
				}
			}
			// Shortened, or moved to another version.
			h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "decrypt/k", map[string]any{"ciphertext": versioned(n, raw[:len(raw)-1])})
			h.write("keys/k/rotate", nil)
			h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "decrypt/k", map[string]any{"ciphertext": versioned(2, raw)})
		})
	}
}

func TestDecryptBadInput(t *testing.T) {
	h := newHarness(t)
	h.write("keys/k", nil)
	h.write("keys/other", nil)
	foreign := h.encrypt("other", "theirs")
	_, raw, _ := parseVersioned(h.encrypt("k", "ours"))
	tests := []struct {
		name, ciphertext string
	}{
		{name: "empty", ciphertext: ""},
		{name: "no prefix", ciphertext: "v1:" + base64.StdEncoding.EncodeToString(raw)},
		{name: "no version", ciphertext: "vault:v:" + base64.StdEncoding.EncodeToString(raw)},
		{name: "version zero", ciphertext: "vault:v0:" + base64.StdEncoding.EncodeToString(raw)},
		{name: "signed version", ciphertext: "vault:v+1:" + base64.StdEncoding.EncodeToString(raw)},
		{name: "huge version", ciphertext: "vault:v99999999999999999999:" + base64.StdEncoding.EncodeToString(raw)},
		{name: "missing version", ciphertext: "vault:v7:" + base64.StdEncoding.EncodeToString(raw)},
		{name: "bad base64", ciphertext: "vault:v1:!!!!"},
		{name: "too short", ciphertext: "vault:v1:AAAA"},
		{name: "another key's ciphertext", ciphertext: foreign},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "decrypt/k", map[string]any{"ciphertext": tc.ciphertext})
			var le *logical.Error
			if !errors.As(err, &le) || le.Msg == "" {
				t.Fatalf("got %v, want a *logical.Error with a message", err)
			}
		})
	}
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "encrypt/k", map[string]any{"plaintext": "###"})
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "encrypt/k", map[string]any{})
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "encrypt/k", map[string]any{"plaintext": enc("x"), "context": "###"})
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "encrypt/bad name", map[string]any{"plaintext": enc("x")})
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "decrypt/missing", map[string]any{"ciphertext": foreign})
}
