package core

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/arca-secrets/arca/lease"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/secmem"
	"github.com/arca-secrets/arca/storage/inmem"
)

// newBenchCore returns an initialised, unsealed core over inmem storage
// holding n leases, and its unseal key.
func newBenchCore(b *testing.B, n int) (*Core, []byte) {
	b.Helper()
	ctx := context.Background()
	c := New(Config{Storage: inmem.New(), StorageType: "inmem", Memory: secmem.BestEffort})
	res, err := c.Init(ctx, 1, 1)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Unseal(ctx, res.Shares[0]); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		if _, err := c.state.leases.Register(ctx, lease.Lease{Kind: lease.KindToken, Path: "auth/approle/login", TokenAccessor: fmt.Sprint("t", i%1000)}, time.Hour, 0); err != nil {
			b.Fatal(err)
		}
	}
	return c, res.Shares[0]
}

// BenchmarkUnsealAndServe measures seal → unseal → first request with 0,
// 100,000 and 1,000,000 leases stored: unseal does not load leases, so the
// figures should not grow with the count. Run outside CI:
//
//	go test ./core -run '^$' -bench UnsealAndServe -benchtime=20x
func BenchmarkUnsealAndServe(b *testing.B) {
	for _, n := range []int{0, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("leases=%d", n), func(b *testing.B) {
			if testing.Short() && n > 0 {
				b.Skip("large lease counts in -short mode")
			}
			c, key := newBenchCore(b, n)
			ctx := context.Background()
			tok, err := createRootToken(ctx, c.state.tokens, "bench-root")
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if err := c.Seal(ctx); err != nil {
					b.Fatal(err)
				}
				if _, err := c.Unseal(ctx, key); err != nil {
					b.Fatal(err)
				}
				if _, err := c.HandleRequest(ctx, tok, &logical.Request{Operation: logical.ReadOperation, Path: "auth/token/lookup-self"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRevokePrefix100kThroughBarrier measures revoke-prefix of
// 100,000 leases with encryption on (inmem storage under the barrier).
func BenchmarkRevokePrefix100kThroughBarrier(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		c, _ := newBenchCore(b, 100_000)
		b.StartTimer()
		n, err := c.LeaseRevokePrefix(context.Background(), "auth/approle/login", false)
		if err != nil || n != 100_000 {
			b.Fatalf("%d, %v", n, err)
		}
	}
}
