package token

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/secmem"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/inmem"
)

// BenchmarkLookup is the token check every request makes: HMAC of the
// token, a storage read, and decoding the entry. "barrier" reads through
// AES-GCM as the server does; "inmem" shows what the store itself costs.
func BenchmarkLookup(b *testing.B) {
	for _, bc := range []struct {
		name string
		st   func(b *testing.B) storage.Backend
	}{
		{"inmem", func(*testing.B) storage.Backend { return inmem.New() }},
		{"barrier", func(b *testing.B) storage.Backend {
			br := barrier.New(barrier.Config{Backend: inmem.New(), Memory: secmem.BestEffort})
			key := bytes.Repeat([]byte{7}, barrier.KeySize)
			if err := br.Initialize(context.Background(), key); err != nil {
				b.Fatal(err)
			}
			if err := br.Unseal(context.Background(), key); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(br.Seal)
			return br
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			s, err := Open(ctx, Config{Storage: bc.st(b)})
			if err != nil {
				b.Fatal(err)
			}
			e, err := s.Create(ctx, CreateRequest{Policies: []string{"app", "default"}, TTL: time.Hour, Meta: map[string]string{"role": "web"}})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Lookup(ctx, e.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
