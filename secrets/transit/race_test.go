package transit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/inmem"
)

// TestRotateUnderLoad encrypts and decrypts from several goroutines while
// two others rotate the key 20 times in all. Every decrypt must succeed,
// no rotation may be lost, and every ciphertext made meanwhile must open
// in a fresh engine over the same storage: a version is used only once it
// is stored.
func TestRotateUnderLoad(t *testing.T) {
	h := newHarness(t)
	h.write("keys/r", nil)
	const workers = 4
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		cts  []string
		stop = make(chan struct{})
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r, err := h.do(logical.UpdateOperation, "encrypt/r", map[string]any{"plaintext": enc("load")})
				if err != nil {
					t.Errorf("encrypt during rotation: %v", err)
					return
				}
				ct := r.Data["ciphertext"].(string)
				d, err := h.do(logical.UpdateOperation, "decrypt/r", map[string]any{"ciphertext": ct})
				if err != nil || d.Data["plaintext"] != enc("load") {
					t.Errorf("decrypt during rotation: got (%v, %v)", d, err)
					return
				}
				if i%8 == 0 {
					mu.Lock()
					cts = append(cts, ct)
					mu.Unlock()
				}
			}
		}()
	}
	var rot sync.WaitGroup
	for range 2 {
		rot.Add(1)
		go func() {
			defer rot.Done()
			for range 10 {
				if _, err := h.do(logical.UpdateOperation, "keys/r/rotate", nil); err != nil {
					t.Errorf("rotate: %v", err)
				}
			}
		}()
	}
	rot.Wait()
	close(stop)
	wg.Wait()
	if v := h.read("keys/r")["latest_version"]; v != 21 {
		t.Fatalf("latest_version: got %v, want 21", v)
	}
	fresh := &harness{t: t, e: must(Factory(t.Context(), logical.MountConfig{})), st: h.st}
	if v := fresh.read("keys/r")["latest_version"]; v != 21 {
		t.Fatalf("latest_version in storage: got %v, want 21", v)
	}
	for _, ct := range cts {
		if got := fresh.decrypt("r", ct); got != "load" {
			t.Fatalf("ciphertext %s from a fresh engine: got %q", ct[:12], got)
		}
	}
}

// TestConcurrentCreate: many first encrypts of one missing key create it
// once; all their ciphertexts open.
func TestConcurrentCreate(t *testing.T) {
	h := newHarness(t)
	var wg sync.WaitGroup
	cts := make([]string, 8)
	for i := range cts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := h.do(logical.UpdateOperation, "encrypt/new", map[string]any{"plaintext": enc("x")})
			if err != nil {
				t.Errorf("encrypt: %v", err)
				return
			}
			cts[i] = r.Data["ciphertext"].(string)
		}()
	}
	wg.Wait()
	for _, ct := range cts {
		if ct != "" && h.decrypt("new", ct) != "x" {
			t.Fatal("a ciphertext from a concurrent first encrypt does not open")
		}
	}
}

// failingStorage refuses writes while fail is set.
type failingStorage struct {
	*inmem.Backend
	fail atomic.Bool
}

var errDiskFull = errors.New("disk full")

func (s *failingStorage) Put(ctx context.Context, e *storage.Entry) error {
	if s.fail.Load() {
		return errDiskFull
	}
	return s.Backend.Put(ctx, e)
}

// TestFailedWriteIsNotPublished: a rotation (or config change) that could
// not be stored must not be used: otherwise ciphertexts would be made under
// a version that is lost at the next restart.
func TestFailedWriteIsNotPublished(t *testing.T) {
	st := &failingStorage{Backend: inmem.New()}
	h := &harness{t: t, e: must(Factory(t.Context(), logical.MountConfig{})), st: st}
	do := h.do
	if _, err := do(logical.UpdateOperation, "keys/k", nil); err != nil {
		t.Fatal(err)
	}
	st.fail.Store(true)
	for _, path := range []string{"keys/k/rotate", "keys/k/config", "keys/n"} {
		if _, err := do(logical.UpdateOperation, path, map[string]any{"deletion_allowed": true}); !errors.Is(err, errDiskFull) {
			t.Fatalf("%s with failing storage: got %v, want %v", path, err, errDiskFull)
		}
	}
	r, err := do(logical.UpdateOperation, "encrypt/k", map[string]any{"plaintext": enc("x")})
	if err != nil || r.Data["key_version"] != 1 {
		t.Fatalf("encrypt after a failed rotate: got (%v, %v), want version 1", r, err)
	}
	if r, err := do(logical.ReadOperation, "keys/k", nil); err != nil || r.Data["deletion_allowed"] != false {
		t.Fatalf("read after a failed config: got (%v, %v), want deletion_allowed false", r, err)
	}
	if r, err := do(logical.ReadOperation, "keys/n", nil); err != nil || r != nil {
		t.Fatalf("read of a key whose creation failed: got (%v, %v), want nothing", r, err)
	}
}
