package transit

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage/inmem"
)

type harness struct {
	t  testing.TB
	e  logical.Engine
	st *inmem.Backend
}

func newHarness(t testing.TB) *harness {
	e, err := Factory(context.Background(), logical.MountConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, e: e, st: inmem.New()}
}

func (h *harness) do(op logical.Operation, path string, data map[string]any) (*logical.Response, error) {
	if data == nil {
		data = map[string]any{}
	}
	return h.e.HandleRequest(context.Background(), &logical.Request{Operation: op, Path: path, Data: data, Storage: h.st})
}

func (h *harness) must(op logical.Operation, path string, data map[string]any) map[string]any {
	h.t.Helper()
	r, err := h.do(op, path, data)
	if err != nil {
		h.t.Fatalf("%s %s: %v", op, path, err)
	}
	if r == nil {
		return nil
	}
	return r.Data
}

func enc(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestTamperEveryByte(t *testing.T) {
	h := newHarness(t)
	ct := h.must(logical.UpdateOperation, "encrypt/k", map[string]any{"plaintext": enc("secret")})["ciphertext"].(string)
	_, raw, err := parseVersioned(ct)
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		bad := append([]byte(nil), raw...)
		bad[i] ^= 0x01
		_, err := h.do(logical.UpdateOperation, "decrypt/k", map[string]any{"ciphertext": versioned(1, bad)})
		if !errors.Is(err, logical.ErrInvalidRequest) {
			t.Fatalf("byte %d flipped: got %v, want a 400", i, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Fatal("an error message holds the plaintext")
		}
	}
}

func TestDerivedKeysNeedContext(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "keys/d", map[string]any{"derived": true})
	if _, err := h.do(logical.UpdateOperation, "encrypt/d", map[string]any{"plaintext": enc("x")}); !errors.Is(err, logical.ErrInvalidRequest) {
		t.Fatalf("derived key without context: %v", err)
	}
	a := h.must(logical.UpdateOperation, "encrypt/d", map[string]any{"plaintext": enc("x"), "context": enc("tenant-a")})["ciphertext"]
	if _, err := h.do(logical.UpdateOperation, "decrypt/d", map[string]any{"ciphertext": a, "context": enc("tenant-b")}); !errors.Is(err, logical.ErrInvalidRequest) {
		t.Fatalf("decrypt with another context: %v", err)
	}
	if pt := h.must(logical.UpdateOperation, "decrypt/d", map[string]any{"ciphertext": a, "context": enc("tenant-a")})["plaintext"]; pt != enc("x") {
		t.Fatalf("derived round trip: %v", pt)
	}
}

func TestExportBackupRestoreTrim(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "keys/e", map[string]any{"exportable": true, "allow_plaintext_backup": true})
	ct := h.must(logical.UpdateOperation, "encrypt/e", map[string]any{"plaintext": enc("keep")})["ciphertext"]
	if keys := h.must(logical.ReadOperation, "export/encryption-key/e", nil)["keys"].(map[string]any); len(keys) != 1 {
		t.Fatalf("export: %v", keys)
	}
	if _, err := h.do(logical.UpdateOperation, "keys/e/config", map[string]any{"exportable": false}); !errors.Is(err, logical.ErrInvalidRequest) {
		t.Fatalf("un-exporting: %v", err)
	}
	backup := h.must(logical.ReadOperation, "backup/e", nil)["backup"]
	h.must(logical.UpdateOperation, "restore/e2", map[string]any{"backup": backup})
	if pt := h.must(logical.UpdateOperation, "decrypt/e2", map[string]any{"ciphertext": ct})["plaintext"]; pt != enc("keep") {
		t.Fatal("restored key does not decrypt")
	}
	if _, err := h.do(logical.UpdateOperation, "restore/e2", map[string]any{"backup": backup}); !errors.Is(err, logical.ErrInvalidRequest) {
		t.Fatalf("restore over an existing key without force: %v", err)
	}
	h.must(logical.UpdateOperation, "keys/e/rotate", nil)
	h.must(logical.UpdateOperation, "keys/e/config", map[string]any{"min_decryption_version": 2})
	h.must(logical.UpdateOperation, "keys/e/trim", map[string]any{"min_available_version": 2})
	if keys := h.must(logical.ReadOperation, "keys/e", nil)["keys"].(map[string]any); len(keys) != 1 {
		t.Fatalf("after trim: %v", keys)
	}
	h.must(logical.UpdateOperation, "keys/e/config", map[string]any{"deletion_allowed": true})
	h.must(logical.DeleteOperation, "keys/e", nil)
	if r := h.must(logical.ReadOperation, "keys/e", nil); r != nil {
		t.Fatal("deleted key still readable")
	}
}

// TestRotateUnderLoad encrypts and decrypts from several goroutines while
// the key rotates 20 times: every decrypt must succeed.
func TestRotateUnderLoad(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "keys/r", nil)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := h.do(logical.UpdateOperation, "encrypt/r", map[string]any{"plaintext": enc("load")})
				if err != nil {
					t.Error(err)
					return
				}
				d, err := h.do(logical.UpdateOperation, "decrypt/r", map[string]any{"ciphertext": r.Data["ciphertext"]})
				if err != nil || d.Data["plaintext"] != enc("load") {
					t.Errorf("decrypt during rotation: %v, %v", d, err)
					return
				}
			}
		}()
	}
	for range 20 {
		h.must(logical.UpdateOperation, "keys/r/rotate", nil)
	}
	close(stop)
	wg.Wait()
	if v := h.must(logical.ReadOperation, "keys/r", nil)["latest_version"]; v != 21 {
		t.Fatalf("latest_version %v, want 21", v)
	}
}

func FuzzDecrypt(f *testing.F) {
	h := newHarness(f)
	ct := h.must(logical.UpdateOperation, "encrypt/f", map[string]any{"plaintext": enc("seed")})["ciphertext"].(string)
	f.Add(ct)
	f.Add("vault:v1:")
	f.Add("vault:v99999999999999999999:AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := h.do(logical.UpdateOperation, "decrypt/f", map[string]any{"ciphertext": s})
		if err == nil && s != ct && r.Data["plaintext"] == enc("seed") && !strings.HasPrefix(s, "vault:v1:") {
			t.Fatalf("%q decrypted to the seed's plaintext", s)
		}
	})
}

func benchCrypt(b *testing.B, decrypt bool) {
	h := newHarness(b)
	pt := enc(strings.Repeat("x", 1024))
	ct := h.must(logical.UpdateOperation, "encrypt/b", map[string]any{"plaintext": pt})["ciphertext"]
	b.SetBytes(1024)
	b.ResetTimer()
	for b.Loop() {
		if decrypt {
			_, _ = h.do(logical.UpdateOperation, "decrypt/b", map[string]any{"ciphertext": ct})
		} else {
			_, _ = h.do(logical.UpdateOperation, "encrypt/b", map[string]any{"plaintext": pt})
		}
	}
}

func BenchmarkEncrypt1KiB(b *testing.B) { benchCrypt(b, false) }
func BenchmarkDecrypt1KiB(b *testing.B) { benchCrypt(b, true) }

func TestAutoRotateOnUse(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "keys/a", map[string]any{"auto_rotate_period": "1h"})
	// Age the latest version past the period.
	e := h.e.(*engine)
	p := e.cache["a"].clone()
	old := *p.Versions["1"]
	old.CreationTime = old.CreationTime.Add(-2 * time.Hour)
	p.Versions["1"] = &old
	e.cache["a"] = p
	r := h.must(logical.UpdateOperation, "encrypt/a", map[string]any{"plaintext": enc("x")})
	if r["key_version"] != 2 {
		t.Fatalf("encrypt after the period used version %v, want 2 (auto-rotated)", r["key_version"])
	}
}
