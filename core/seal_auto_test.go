package core

import (
	"context"
	"testing"

	"github.com/arca-secrets/arca/storage/inmem"
)

// slowSeal is an autoSeal whose Unwrap waits until released, like an HSM
// that takes its time.
type slowSeal struct {
	*autoSeal
	entered, release chan struct{}
}

func (s *slowSeal) Unwrap(ctx context.Context, wrapped []byte, shares [][]byte) ([]byte, error) {
	close(s.entered)
	<-s.release
	return s.autoSeal.Unwrap(ctx, wrapped, shares)
}

// TestAutoUnsealDoesNotHoldUpSealStatus: while the seal unwraps, the node
// answers seal-status (sealed) instead of waiting on the seal.
func TestAutoUnsealDoesNotHoldUpSealStatus(t *testing.T) {
	ctx := context.Background()
	s := &slowSeal{autoSeal: newAutoSeal(t), entered: make(chan struct{}), release: make(chan struct{})}
	c := newSealCore(s, inmem.New())
	if _, err := c.InitWith(ctx, InitParams{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.AutoUnseal(ctx) }()
	<-s.entered
	st, err := c.SealStatus(ctx)
	if err != nil || !st.Sealed {
		t.Fatalf("seal status while the seal unwraps: sealed=%v, %v; want sealed", st.Sealed, err)
	}
	close(s.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c.Sealed() {
		t.Fatal("sealed after AutoUnseal")
	}
}
