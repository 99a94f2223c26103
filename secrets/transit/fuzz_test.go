package transit

import (
	"errors"
	"testing"

	"github.com/arca-secrets/arca/logical"
)

// FuzzDecrypt feeds arbitrary ciphertexts to decrypt: it must never panic,
// must fail with a client error, and only the seed ciphertext (or one
// whose base64 decodes to the same bytes) may open.
func FuzzDecrypt(f *testing.F) {
	h := newHarness(f)
	ct := h.encrypt("f", "seed")
	f.Add(ct)
	f.Add("vault:v1:")
	f.Add("vault:v1")
	f.Add("vault:v:AAAA")
	f.Add("vault:v-1:AAAA")
	f.Add("vault:v99999999999999999999:AAAA")
	f.Add("vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("vault:v1:%%%")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := h.do(logical.UpdateOperation, "decrypt/f", map[string]any{"ciphertext": s})
		if err != nil {
			if !errors.Is(err, logical.ErrInvalidRequest) {
				t.Fatalf("%q: got %v, want a client error", s, err)
			}
			return
		}
		n, raw, perr := parseVersioned(s)
		_, want, _ := parseVersioned(ct)
		if perr != nil || n != 1 || string(raw) != string(want) || r.Data["plaintext"] != enc("seed") {
			t.Fatalf("%q opened to %v", s, r.Data)
		}
	})
}

// FuzzParseVersioned: whatever parses re-encodes to a string that parses
// to the same version and bytes.
func FuzzParseVersioned(f *testing.F) {
	f.Add("vault:v1:AAAA")
	f.Add("vault:v12:")
	f.Add("vault:v0012:AA==")
	f.Fuzz(func(t *testing.T, s string) {
		n, raw, err := parseVersioned(s)
		if err != nil {
			return
		}
		n2, raw2, err := parseVersioned(versioned(n, raw))
		if err != nil || n2 != n || string(raw2) != string(raw) {
			t.Fatalf("%q: re-encoding gives (%d, %x, %v), want (%d, %x)", s, n2, raw2, err, n, raw)
		}
	})
}
