package e2e

import (
	"strings"
	"testing"

	"github.com/openbao/openbao/api/v2"
)

// BenchmarkTransitHTTP measures transit encrypt and decrypt of 1 KiB
// through the HTTP API of a real dev server (one client, keep-alive).
func BenchmarkTransitHTTP(b *testing.B) {
	addr := freeAddr(b)
	startArca(b, addr, "-dev", "-dev-root-token-id=root", "-dev-listen-address="+addr)
	c := newClient(b, addr, "root")
	if err := c.Sys().Mount("transit", &api.MountInput{Type: "transit"}); err != nil {
		b.Fatal(err)
	}
	pt := b64(strings.Repeat("x", 1024))
	s, err := c.Logical().Write("transit/encrypt/bench", map[string]any{"plaintext": pt})
	if err != nil {
		b.Fatal(err)
	}
	ct := s.Data["ciphertext"]
	b.Run("encrypt", func(b *testing.B) {
		b.SetBytes(1024)
		for b.Loop() {
			if _, err := c.Logical().Write("transit/encrypt/bench", map[string]any{"plaintext": pt}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decrypt", func(b *testing.B) {
		b.SetBytes(1024)
		for b.Loop() {
			if _, err := c.Logical().Write("transit/decrypt/bench", map[string]any{"ciphertext": ct}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
