package storage_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/inmem"
	"github.com/arca-secrets/arca/storage/storagetest"
)

func TestViewConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		return storage.NewView(inmem.New(), "logical/abc/")
	})
}

func TestViewIsolation(t *testing.T) {
	ctx := context.Background()
	raw := inmem.New()
	mustPut := func(b storage.Backend, k string) {
		if err := b.Put(ctx, &storage.Entry{Key: k, Value: []byte(k)}); err != nil {
			t.Fatal(err)
		}
	}
	a := storage.NewView(raw, "logical/a/")
	b := storage.NewView(raw, "logical/b")
	mustPut(a, "x/1")
	mustPut(a, "y")
	mustPut(b, "x/1")
	mustPut(raw, "logical/ab/z")
	mustPut(raw, "core/keyring")

	if e, _ := raw.Get(ctx, "logical/a/x/1"); e == nil {
		t.Fatal("view did not write under its prefix")
	}
	names, err := a.List(ctx, "")
	if err != nil || !cmp.Equal(names, []string{"x/", "y"}) {
		t.Fatalf("view a lists %v, %v; want [x/ y]", names, err)
	}
	// A view cannot reach outside its prefix with dot segments or
	// absolute keys.
	for _, k := range []string{"../b/x/1", "/core/keyring"} {
		if e, err := a.Get(ctx, k); e != nil && err == nil && string(e.Value) != "" {
			t.Fatalf("view a read %q outside its prefix: %q", k, e.Value)
		}
	}
	if err := storage.ClearView(ctx, a); err != nil {
		t.Fatal(err)
	}
	all, _ := raw.List(ctx, "logical/")
	if !cmp.Equal(all, []string{"ab/", "b/"}) {
		t.Fatalf("after ClearView(a): logical/ holds %v, want [ab/ b/]", all)
	}
	if e, _ := b.Get(ctx, "x/1"); e == nil {
		t.Fatal("ClearView(a) removed b's data")
	}
}
