package storage_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/bolt"
	"github.com/arca-secrets/arca/storage/inmem"
)

// A step lands writes made through several views of one bbolt file
// together, each under its view's prefix, or none of them.
func TestStepAllOrNothingOnBolt(t *testing.T) {
	ctx := context.Background()
	b, err := bolt.Open(filepath.Join(t.TempDir(), "s.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tokens := storage.NewView(b, "sys/token/")
	leases := storage.NewView(storage.NewView(b, "sys/"), "expire/")
	if err := b.Put(ctx, &storage.Entry{Key: "sys/expire/old", Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}

	var s storage.Step
	if err := s.Stage(tokens, []*storage.Entry{{Key: "id/h1", Value: []byte("token")}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Stage(leases, []*storage.Entry{{Key: "id/l1", Value: []byte("lease")}}, []string{"old"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"sys/token/id/h1": "token", "sys/expire/id/l1": "lease"} {
		if e, err := b.Get(ctx, key); err != nil || e == nil || string(e.Value) != want {
			t.Errorf("%s: %v %v, want %q", key, e, err, want)
		}
	}
	if e, _ := b.Get(ctx, "sys/expire/old"); e != nil {
		t.Error("the staged delete did not happen")
	}

	// bbolt refuses a key over 32 KiB: the whole step fails, and the
	// token staged before it is not written either.
	var bad storage.Step
	if err := bad.Stage(tokens, []*storage.Entry{{Key: "id/h2", Value: []byte("token")}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := bad.Stage(leases, []*storage.Entry{{Key: strings.Repeat("k", 40<<10), Value: []byte("lease")}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := bad.Commit(ctx); err == nil {
		t.Fatal("a step with a key bbolt refuses committed")
	}
	if e, _ := tokens.Get(ctx, "id/h2"); e != nil {
		t.Error("half of a failed step was written")
	}
}

func TestStepRefusals(t *testing.T) {
	a, b := inmem.New(), inmem.New()
	var s storage.Step
	if err := s.Stage(storage.NewView(a, "x/"), []*storage.Entry{{Key: "k", Value: []byte("v")}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Stage(storage.NewView(b, "y/"), []*storage.Entry{{Key: "k", Value: []byte("v")}}, nil); !errors.Is(err, storage.ErrOtherBackend) {
		t.Errorf("views of two backends in one step: %v, want ErrOtherBackend", err)
	}
	for _, key := range []string{"", "/abs", "dir/", "a//b"} {
		if err := s.Stage(storage.NewView(a, "x/"), []*storage.Entry{{Key: key}}, nil); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("put %q: %v, want ErrInvalidKey", key, err)
		}
		if err := s.Stage(storage.NewView(a, "x/"), nil, []string{key}); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("delete %q: %v, want ErrInvalidKey", key, err)
		}
	}
	var empty storage.Step
	if err := empty.Commit(context.Background()); err != nil {
		t.Errorf("an empty step: %v", err)
	}
}
