package transit

import (
	"strings"
	"testing"

	"github.com/arca-secrets/arca/logical"
)

func benchCrypt(b *testing.B, decrypt bool) {
	h := newHarness(b)
	pt := enc(strings.Repeat("x", 1024))
	ct := h.encrypt("b", strings.Repeat("x", 1024))
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if decrypt {
			_, err = h.do(logical.UpdateOperation, "decrypt/b", map[string]any{"ciphertext": ct})
		} else {
			_, err = h.do(logical.UpdateOperation, "encrypt/b", map[string]any{"plaintext": pt})
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncrypt1KiB(b *testing.B) { benchCrypt(b, false) }
func BenchmarkDecrypt1KiB(b *testing.B) { benchCrypt(b, true) }

// BenchmarkEncrypt1KiBParallel shows that readers do not contend.
func BenchmarkEncrypt1KiBParallel(b *testing.B) {
	h := newHarness(b)
	pt := enc(strings.Repeat("x", 1024))
	h.encrypt("b", "warm")
	b.SetBytes(1024)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.do(logical.UpdateOperation, "encrypt/b", map[string]any{"plaintext": pt}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
