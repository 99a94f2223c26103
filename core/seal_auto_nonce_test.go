package core

import (
	"context"
	"errors"
	"testing"

	"github.com/arca-secrets/arca/core/sealconf"
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/storage/inmem"
)

// waitingSeal is an autoSeal whose Unwrap says it has begun and then waits
// to be released, as a transit seal waiting on its unsealer does.
type waitingSeal struct {
	*autoSeal
	entered, release chan struct{}
}

func (s *waitingSeal) Unwrap(ctx context.Context, wrapped []byte, shares [][]byte) ([]byte, error) {
	s.entered <- struct{}{}
	<-s.release
	return s.autoSeal.Unwrap(ctx, wrapped, shares)
}

var _ seal.Seal = (*waitingSeal)(nil)

func TestAutoUnsealUnwrapsOutsideTheStateLockAndRechecks(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// meanwhile runs while the seal waits; it may change storage.
		meanwhile func(t *testing.T, c *Core)
		want      error
	}{
		{"seal-status answers meanwhile", func(*testing.T, *Core) {}, nil},
		{"a configuration changed meanwhile is not unsealed with", func(t *testing.T, c *Core) {
			conf, err := sealconf.Read(ctx, c.physical)
			if err != nil {
				t.Fatal(err)
			}
			conf.Nonce = "another"
			if err := sealconf.Write(ctx, c.physical, conf); err != nil {
				t.Fatal(err)
			}
		}, errSealConfigChanged},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &waitingSeal{autoSeal: newAutoSeal(t), entered: make(chan struct{}), release: make(chan struct{})}
			c := newSealCore(s, inmem.New())
			if _, err := c.InitWith(ctx, InitParams{}); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- c.AutoUnseal(ctx) }()
			<-s.entered
			// With the lock held by the unwrap, these would block.
			st, err := c.SealStatus(ctx)
			if err != nil || !st.Sealed {
				t.Fatalf("seal-status while the seal waits: got %+v, %v; want sealed", st, err)
			}
			tc.meanwhile(t, c)
			close(s.release)
			err = <-done
			if !errors.Is(err, tc.want) {
				t.Fatalf("AutoUnseal: got %v, want %v", err, tc.want)
			}
			if tc.want != nil && !errors.Is(err, seal.ErrUnavailable) {
				t.Fatalf("AutoUnseal: got %v, want it to match ErrUnavailable (worth another try)", err)
			}
			if sealed := c.Sealed(); sealed != (tc.want != nil) {
				t.Fatalf("sealed: got %v, want %v", sealed, tc.want != nil)
			}
		})
	}
}
