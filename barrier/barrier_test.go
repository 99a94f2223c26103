package barrier

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/arca-secrets/arca/secmem"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/inmem"
	"github.com/arca-secrets/arca/storage/storagetest"
)

func rootKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

// newUnsealed returns an unsealed barrier over a fresh inmem backend.
func newUnsealed(t testing.TB) (*Barrier, *inmem.Backend) {
	t.Helper()
	raw := inmem.New()
	b := New(Config{Backend: raw, Memory: secmem.BestEffort})
	ctx := context.Background()
	if err := b.Initialize(ctx, rootKey(7)); err != nil {
		t.Fatal(err)
	}
	if err := b.Unseal(ctx, rootKey(7)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Seal)
	return b, raw
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		b, _ := newUnsealed(t)
		return b
	})
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	raw := inmem.New()
	b := New(Config{Backend: raw, Memory: secmem.BestEffort})
	if !b.Sealed() {
		t.Fatal("new barrier is not sealed")
	}
	if err := b.Unseal(ctx, rootKey(1)); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("unseal before init: got %v, want ErrNotInitialized", err)
	}
	if err := b.Initialize(ctx, rootKey(1)[:5]); !errors.Is(err, ErrBadKeySize) {
		t.Fatalf("short root key: got %v, want ErrBadKeySize", err)
	}
	if err := b.Initialize(ctx, rootKey(1)); err != nil {
		t.Fatal(err)
	}
	if err := b.Initialize(ctx, rootKey(1)); !errors.Is(err, ErrAlreadyInitialized) {
		t.Fatalf("second init: got %v, want ErrAlreadyInitialized", err)
	}
	if _, err := b.Get(ctx, "k"); !errors.Is(err, ErrSealed) {
		t.Fatalf("Get while sealed: got %v, want ErrSealed", err)
	}
	if err := b.Put(ctx, &storage.Entry{Key: "k"}); !errors.Is(err, ErrSealed) {
		t.Fatalf("Put while sealed: got %v, want ErrSealed", err)
	}
	if _, err := b.List(ctx, ""); !errors.Is(err, ErrSealed) {
		t.Fatalf("List while sealed: got %v, want ErrSealed", err)
	}
	if err := b.Delete(ctx, "k"); !errors.Is(err, ErrSealed) {
		t.Fatalf("Delete while sealed: got %v, want ErrSealed", err)
	}
	if err := b.Unseal(ctx, rootKey(2)); !errors.Is(err, ErrBadRootKey) || !b.Sealed() {
		t.Fatalf("wrong root key: got %v sealed=%v, want ErrBadRootKey and sealed", err, b.Sealed())
	}
	if err := b.VerifyRootKey(ctx, rootKey(2)); !errors.Is(err, ErrBadRootKey) {
		t.Fatalf("VerifyRootKey(wrong): %v", err)
	}
	if err := b.VerifyRootKey(ctx, rootKey(1)); err != nil || !b.Sealed() {
		t.Fatalf("VerifyRootKey(right): %v, sealed=%v; want nil and still sealed", err, b.Sealed())
	}
	if err := b.Unseal(ctx, rootKey(1)); err != nil || b.Sealed() {
		t.Fatalf("unseal: %v", err)
	}
	b.Seal()
	b.Seal()
	if !b.Sealed() {
		t.Fatal("not sealed after Seal")
	}
}

func TestNoPlaintextBelow(t *testing.T) {
	b, raw := newUnsealed(t)
	ctx := context.Background()
	secret := []byte("the-plaintext-secret-value")
	if err := b.Put(ctx, &storage.Entry{Key: "app/secret", Value: secret}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"app/secret", KeyringPath} {
		e, _ := raw.Get(ctx, key)
		if e == nil {
			t.Fatalf("raw %s missing", key)
		}
		if bytes.Contains(e.Value, secret) || bytes.Contains(e.Value, rootKey(7)) {
			t.Fatalf("raw %s holds plaintext", key)
		}
	}
	// The keyring's term key must not appear either.
	b.mu.RLock()
	termKey := bytes.Clone(b.active.key.Bytes())
	b.mu.RUnlock()
	e, _ := raw.Get(ctx, KeyringPath)
	if bytes.Contains(e.Value, termKey) {
		t.Fatal("raw keyring holds the term key in plaintext")
	}
}

func TestMoveTamperTruncate(t *testing.T) {
	b, raw := newUnsealed(t)
	ctx := context.Background()
	if err := b.Put(ctx, &storage.Entry{Key: "a", Value: []byte("value of a")}); err != nil {
		t.Fatal(err)
	}
	orig, _ := raw.Get(ctx, "a")

	// Moved to another key: refused.
	_ = raw.Put(ctx, &storage.Entry{Key: "b", Value: orig.Value})
	if _, err := b.Get(ctx, "b"); !errors.Is(err, ErrCorruptEntry) {
		t.Fatalf("moved entry: got %v, want ErrCorruptEntry", err)
	}
	// Every single bit flipped: refused, never a panic.
	for i := range len(orig.Value) * 8 {
		v := bytes.Clone(orig.Value)
		v[i/8] ^= 1 << (i % 8)
		_ = raw.Put(ctx, &storage.Entry{Key: "a", Value: v})
		if e, err := b.Get(ctx, "a"); err == nil {
			t.Fatalf("bit %d flipped: read %q without error", i, e.Value)
		}
	}
	// Truncated at every length: refused.
	for n := range len(orig.Value) {
		_ = raw.Put(ctx, &storage.Entry{Key: "a", Value: orig.Value[:n]})
		if _, err := b.Get(ctx, "a"); err == nil {
			t.Fatalf("truncated to %d bytes: read without error", n)
		}
	}
}

func TestReservedPrefix(t *testing.T) {
	b, _ := newUnsealed(t)
	ctx := context.Background()
	if _, err := b.Get(ctx, KeyringPath); !errors.Is(err, storage.ErrInvalidKey) {
		t.Fatalf("Get(keyring): got %v, want ErrInvalidKey", err)
	}
	if err := b.Put(ctx, &storage.Entry{Key: "core/seal-config", Value: []byte("x")}); !errors.Is(err, storage.ErrInvalidKey) {
		t.Fatalf("Put(core/...): got %v, want ErrInvalidKey", err)
	}
	if _, err := b.List(ctx, "core/"); !errors.Is(err, storage.ErrInvalidKey) {
		t.Fatalf("List(core/): got %v, want ErrInvalidKey", err)
	}
	names, err := b.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if n == ReservedPrefix {
			t.Fatal("List(\"\") shows the reserved folder")
		}
	}
}

func TestRotate(t *testing.T) {
	b, raw := newUnsealed(t)
	ctx := context.Background()
	put := func(k string) {
		if err := b.Put(ctx, &storage.Entry{Key: k, Value: []byte(k)}); err != nil {
			t.Fatal(err)
		}
	}
	put("old")
	term, err := b.Rotate(ctx)
	if err != nil || term != 2 {
		t.Fatalf("Rotate: %d, %v; want 2", term, err)
	}
	put("new")
	e, _ := raw.Get(ctx, "new")
	if n, _ := parseHeader(e.Value); n != 2 {
		t.Fatalf("new entry sealed with term %d, want 2", n)
	}
	ks, err := b.KeyStatus()
	if err != nil || ks.Term != 2 || ks.Encryptions != 1 {
		t.Fatalf("KeyStatus: %+v, %v; want term 2 with 1 encryption", ks, err)
	}
	// After seal and unseal every term still opens its entries.
	b.Seal()
	if err := b.Unseal(ctx, rootKey(7)); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"old", "new"} {
		if e, err := b.Get(ctx, k); err != nil || string(e.Value) != k {
			t.Fatalf("Get(%s) after rotate and reseal: %+v, %v", k, e, err)
		}
	}
}

func TestSealWithKey(t *testing.T) {
	ct, err := SealWithKey(rootKey(3), "core/x", []byte("root"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := OpenWithKey(rootKey(3), "core/x", ct); err != nil || string(pt) != "root" {
		t.Fatalf("open: %q, %v", pt, err)
	}
	if _, err := OpenWithKey(rootKey(4), "core/x", ct); !errors.Is(err, ErrCorruptEntry) {
		t.Fatalf("wrong key: got %v", err)
	}
	if _, err := OpenWithKey(rootKey(3), "core/y", ct); !errors.Is(err, ErrCorruptEntry) {
		t.Fatalf("wrong path: got %v", err)
	}
}

// TestConcurrentRotateAndSeal runs readers and writers while the keyring
// rotates, then seals under them: nothing panics or reads wrong data, and
// after the seal every call says sealed.
func TestConcurrentRotateAndSeal(t *testing.T) {
	b, _ := newUnsealed(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("w%d/%d", w, i%20)
				if err := b.Put(ctx, &storage.Entry{Key: k, Value: []byte(k)}); err != nil {
					if errors.Is(err, ErrSealed) {
						return
					}
					t.Error(err)
					return
				}
				e, err := b.Get(ctx, k)
				if errors.Is(err, ErrSealed) {
					return
				}
				if err != nil || string(e.Value) != k {
					t.Errorf("Get(%s) = %+v, %v", k, e, err)
					return
				}
			}
		}()
	}
	for range 10 {
		if _, err := b.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	b.Seal()
	close(stop)
	wg.Wait()
	if _, err := b.Get(ctx, "w0/0"); !errors.Is(err, ErrSealed) {
		t.Fatalf("after seal: got %v, want ErrSealed", err)
	}
}

func FuzzGet(f *testing.F) {
	b, raw := newUnsealed(f)
	ctx := context.Background()
	_ = b.Put(ctx, &storage.Entry{Key: "k", Value: []byte("seed value")})
	seed, _ := raw.Get(ctx, "k")
	f.Add(seed.Value)
	f.Add([]byte{1, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, v []byte) {
		_ = raw.Put(ctx, &storage.Entry{Key: "f", Value: v})
		if e, err := b.Get(ctx, "f"); err == nil && e == nil {
			t.Fatal("no error and no entry for a present key")
		}
	})
}

func BenchmarkPut1KiB(b *testing.B) {
	br, _ := newUnsealed(b)
	v := bytes.Repeat([]byte("x"), 1024)
	ctx := context.Background()
	b.SetBytes(1024)
	for b.Loop() {
		if err := br.Put(ctx, &storage.Entry{Key: "bench", Value: v}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet1KiB(b *testing.B) {
	br, _ := newUnsealed(b)
	ctx := context.Background()
	_ = br.Put(ctx, &storage.Entry{Key: "bench", Value: bytes.Repeat([]byte("x"), 1024)})
	b.SetBytes(1024)
	for b.Loop() {
		if _, err := br.Get(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
