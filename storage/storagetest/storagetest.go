// Package storagetest is the conformance suite every storage.Backend must
// pass (inmem, bolt, the barrier, and later Raft and PostgreSQL), and
// benchmarks to compare them.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/arca-secrets/arca/storage"
)

// Run runs the suite; newBackend returns an empty backend for each subtest.
func Run(t *testing.T, newBackend func(t *testing.T) storage.Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b storage.Backend)
	}{
		{"GetMissing", testGetMissing},
		{"RoundTripCopies", testRoundTripCopies},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"List", testList},
		{"UnusualKeys", testUnusualKeys},
		{"InvalidKeys", testInvalidKeys},
		{"LargeValue", testLargeValue},
		{"Concurrent", testConcurrent},
		{"PutAll", testPutAll},
		{"WriteAll", testWriteAll},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newBackend(t)) })
	}
}

func put(t *testing.T, b storage.Backend, key, value string) {
	t.Helper()
	if err := b.Put(context.Background(), &storage.Entry{Key: key, Value: []byte(value)}); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func get(t *testing.T, b storage.Backend, key string) *storage.Entry {
	t.Helper()
	e, err := b.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return e
}

func testGetMissing(t *testing.T, b storage.Backend) {
	if e := get(t, b, "no/such/key"); e != nil {
		t.Fatalf("got %+v, want nil", e)
	}
}

func testRoundTripCopies(t *testing.T, b storage.Backend) {
	v := []byte("value")
	if err := b.Put(context.Background(), &storage.Entry{Key: "a/b", Value: v}); err != nil {
		t.Fatal(err)
	}
	v[0] = 'X' // the caller's slice must not alias storage
	e := get(t, b, "a/b")
	if e == nil || e.Key != "a/b" || string(e.Value) != "value" {
		t.Fatalf("got %+v, want a/b=value", e)
	}
	e.Value[0] = 'Y' // nor the returned one
	if e := get(t, b, "a/b"); string(e.Value) != "value" {
		t.Fatalf("after mutating the returned value: got %q, want value", e.Value)
	}
}

func testOverwrite(t *testing.T, b storage.Backend) {
	put(t, b, "k", "one")
	put(t, b, "k", "two")
	if e := get(t, b, "k"); string(e.Value) != "two" {
		t.Fatalf("got %q, want two", e.Value)
	}
}

func testDelete(t *testing.T, b storage.Backend) {
	put(t, b, "k", "v")
	put(t, b, "k2", "v")
	ctx := context.Background()
	if err := b.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if e := get(t, b, "k"); e != nil {
		t.Fatalf("deleted key still there: %+v", e)
	}
	if e := get(t, b, "k2"); e == nil {
		t.Fatal("delete removed another key")
	}
	if err := b.Delete(ctx, "never/was"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
}

func testList(t *testing.T, b storage.Backend) {
	for _, k := range []string{"a", "b/c", "b/d/e", "b", "bb/x", "c/d", "z"} {
		put(t, b, k, "v")
	}
	ctx := context.Background()
	cases := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a", "b", "b/", "bb/", "c/", "z"}},
		{"b/", []string{"c", "d/"}},
		{"b/d/", []string{"e"}},
		{"missing/", []string{}},
	}
	for _, tc := range cases {
		got, err := b.List(ctx, tc.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", tc.prefix, err)
		}
		if got == nil {
			got = []string{}
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("List(%q) (-want +got):\n%s", tc.prefix, diff)
		}
	}
}

func testUnusualKeys(t *testing.T, b storage.Backend) {
	keys := []string{"with space", "ünïcødé/ключ", "100%/x", "a..b/c", "tab\tkey", "dots/.../x"}
	for i, k := range keys {
		put(t, b, k, fmt.Sprint(i))
	}
	for i, k := range keys {
		if e := get(t, b, k); e == nil || string(e.Value) != fmt.Sprint(i) {
			t.Errorf("Get(%q) = %+v, want %d", k, e, i)
		}
	}
}

func testInvalidKeys(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	for _, k := range []string{"", "/lead", "trail/", "dou//ble"} {
		if err := b.Put(ctx, &storage.Entry{Key: k, Value: []byte("v")}); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put(%q): got %v, want ErrInvalidKey", k, err)
		}
		if _, err := b.Get(ctx, k); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Get(%q): got %v, want ErrInvalidKey", k, err)
		}
		if err := b.Delete(ctx, k); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Delete(%q): got %v, want ErrInvalidKey", k, err)
		}
	}
}

func testLargeValue(t *testing.T, b storage.Backend) {
	v := bytes.Repeat([]byte{0xA5, 0x00, 0xFF}, 1<<20/3)
	if err := b.Put(context.Background(), &storage.Entry{Key: "big", Value: v}); err != nil {
		t.Fatal(err)
	}
	if e := get(t, b, "big"); !bytes.Equal(e.Value, v) {
		t.Fatal("1 MiB value did not round-trip")
	}
}

func testConcurrent(t *testing.T, b storage.Backend) {
	const workers, per = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := range per {
				k := fmt.Sprintf("w%d/k%d", w, i)
				if err := b.Put(ctx, &storage.Entry{Key: k, Value: []byte(k)}); err != nil {
					errs <- err
					return
				}
				e, err := b.Get(ctx, k)
				if err != nil || e == nil || string(e.Value) != k {
					errs <- fmt.Errorf("Get(%q) = %+v, %v", k, e, err)
					return
				}
				if _, err := b.List(ctx, fmt.Sprintf("w%d/", w)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	names, err := b.List(context.Background(), "w3/")
	if err != nil || len(names) != per {
		t.Fatalf("List(w3/) = %d names, %v; want %d", len(names), err, per)
	}
}

// RunBenchmarks measures Get and Put of 1 KiB values.
func RunBenchmarks(b *testing.B, newBackend func(b *testing.B) storage.Backend) {
	value := bytes.Repeat([]byte("x"), 1024)
	b.Run("Put1KiB", func(b *testing.B) {
		s := newBackend(b)
		ctx := context.Background()
		b.SetBytes(int64(len(value)))
		i := 0
		for b.Loop() {
			if err := s.Put(ctx, &storage.Entry{Key: fmt.Sprintf("bench/%d", i%1000), Value: value}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Get1KiB", func(b *testing.B) {
		s := newBackend(b)
		ctx := context.Background()
		for i := range 1000 {
			if err := s.Put(ctx, &storage.Entry{Key: fmt.Sprintf("bench/%d", i), Value: value}); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(value)))
		i := 0
		for b.Loop() {
			if _, err := s.Get(ctx, fmt.Sprintf("bench/%d", i%1000)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// testPutAll checks storage.PutAll (the backend's own when it is a
// Batcher): every entry lands, and a bad key writes nothing.
func testPutAll(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	entries := []*storage.Entry{{Key: "batch/a", Value: []byte("1")}, {Key: "batch/b", Value: []byte("2")}, {Key: "other", Value: []byte("3")}}
	if err := storage.PutAll(ctx, b, entries); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if got := get(t, b, e.Key); got == nil || !bytes.Equal(got.Value, e.Value) {
			t.Fatalf("Get(%q) after PutAll = %+v", e.Key, got)
		}
	}
	if _, ok := b.(storage.Batcher); !ok {
		return
	}
	err := storage.PutAll(ctx, b, []*storage.Entry{{Key: "batch/c", Value: []byte("x")}, {Key: "/bad", Value: []byte("y")}})
	if !errors.Is(err, storage.ErrInvalidKey) {
		t.Fatalf("PutAll with a bad key: got %v, want ErrInvalidKey", err)
	}
	if get(t, b, "batch/c") != nil {
		t.Fatal("PutAll with a bad key wrote the good ones")
	}
}

// testWriteAll checks storage.WriteAll: puts land, deletes go (their
// folders with them in List), and a bad key to delete writes nothing.
func testWriteAll(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	if err := storage.PutAll(ctx, b, []*storage.Entry{{Key: "wa/old/1", Value: []byte("1")}, {Key: "wa/keep", Value: []byte("k")}}); err != nil {
		t.Fatal(err)
	}
	if err := storage.WriteAll(ctx, b, []*storage.Entry{{Key: "wa/new", Value: []byte("n")}}, []string{"wa/old/1", "wa/never-there"}); err != nil {
		t.Fatal(err)
	}
	if get(t, b, "wa/old/1") != nil || get(t, b, "wa/new") == nil || get(t, b, "wa/keep") == nil {
		t.Fatal("WriteAll did not put and delete as asked")
	}
	names, err := b.List(ctx, "wa/")
	if err != nil || strings.Join(names, ",") != "keep,new" {
		t.Fatalf("List after WriteAll = %v, %v", names, err)
	}
	if _, ok := b.(storage.Batcher); !ok {
		return
	}
	err = storage.WriteAll(ctx, b, []*storage.Entry{{Key: "wa/x", Value: []byte("x")}}, []string{"/bad"})
	if !errors.Is(err, storage.ErrInvalidKey) || get(t, b, "wa/x") != nil {
		t.Fatalf("WriteAll with a bad delete: %v (and wrote %v)", err, get(t, b, "wa/x") != nil)
	}
}
