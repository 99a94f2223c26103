package transit

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/arca-secrets/arca/internal/clocktest"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/inmem"
)

// harness is one mounted engine over in-memory storage and a clock that
// moves only when told to.
type harness struct {
	t     testing.TB
	e     logical.Engine
	st    storage.Backend
	clock *clocktest.Clock
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	clock := clocktest.New()
	e, err := Factory(context.Background(), logical.MountConfig{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, e: e, st: inmem.New(), clock: clock}
}

func (h *harness) do(op logical.Operation, path string, data map[string]any) (*logical.Response, error) {
	if data == nil {
		data = map[string]any{}
	}
	return h.e.HandleRequest(context.Background(), &logical.Request{Operation: op, Path: path, Data: data, Storage: h.st})
}

// write is an update that must succeed; it returns the response data.
func (h *harness) write(path string, data map[string]any) map[string]any {
	h.t.Helper()
	return h.must(logical.UpdateOperation, path, data)
}

func (h *harness) read(path string) map[string]any {
	h.t.Helper()
	return h.must(logical.ReadOperation, path, nil)
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

// fails asserts the request fails with an error of kind.
func (h *harness) fails(kind error, op logical.Operation, path string, data map[string]any) error {
	h.t.Helper()
	r, err := h.do(op, path, data)
	if !errors.Is(err, kind) {
		h.t.Fatalf("%s %s: got (%v, %v), want an error of kind %v", op, path, r, err, kind)
	}
	return err
}

func enc(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// encrypt returns the ciphertext of plaintext under key.
func (h *harness) encrypt(key, plaintext string) string {
	h.t.Helper()
	return h.write("encrypt/"+key, map[string]any{"plaintext": enc(plaintext)})["ciphertext"].(string)
}

// decrypt returns the decoded plaintext.
func (h *harness) decrypt(key, ciphertext string) string {
	h.t.Helper()
	pt := h.write("decrypt/"+key, map[string]any{"ciphertext": ciphertext})["plaintext"].(string)
	b, err := base64.StdEncoding.DecodeString(pt)
	if err != nil {
		h.t.Fatalf("plaintext is not base64: %v", err)
	}
	return string(b)
}
