package kv_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arca-secrets/arca/internal/clocktest"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/secrets/kv"
	"github.com/arca-secrets/arca/storage"
)

// memBackend is a minimal map-based storage.Backend for these tests.
type memBackend struct {
	mu sync.Mutex
	m  map[string][]byte
}

var _ storage.Backend = (*memBackend)(nil)

func newMemBackend() *memBackend { return &memBackend{m: map[string][]byte{}} }

func (b *memBackend) Get(_ context.Context, key string) (*storage.Entry, error) {
	if !storage.ValidKey(key) {
		return nil, storage.ErrInvalidKey
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[key]
	if !ok {
		return nil, nil
	}
	return &storage.Entry{Key: key, Value: bytes.Clone(v)}, nil
}

func (b *memBackend) Put(_ context.Context, e *storage.Entry) error {
	if !storage.ValidKey(e.Key) {
		return storage.ErrInvalidKey
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[e.Key] = bytes.Clone(e.Value)
	return nil
}

func (b *memBackend) Delete(_ context.Context, key string) error {
	if !storage.ValidKey(key) {
		return storage.ErrInvalidKey
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, key)
	return nil
}

func (b *memBackend) List(_ context.Context, prefix string) ([]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	seen := map[string]bool{}
	for k := range b.m {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if i := strings.Index(rest, "/"); i >= 0 {
			rest = rest[:i+1]
		}
		seen[rest] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// keysUnder returns every stored key that starts with prefix.
func (b *memBackend) keysUnder(prefix string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for k := range b.m {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// snapshot copies every entry, to check that a request changed nothing.
func (b *memBackend) snapshot() map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]string, len(b.m))
	for k, v := range b.m {
		out[k] = string(v)
	}
	return out
}

// epoch is where a harness's clock starts; its nanoseconds show that
// times are kept to the nanosecond.
var epoch = time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)

// harness is one mounted engine over its own storage and clock.
type harness struct {
	t     *testing.T
	eng   logical.Engine
	st    *memBackend
	clock *clocktest.Clock
}

func newHarness(t *testing.T, version string) *harness {
	t.Helper()
	st := newMemBackend()
	clock := clocktest.At(epoch)
	eng, err := kv.Factory(context.Background(), logical.MountConfig{Options: map[string]string{"version": version}, Storage: st, Now: clock.Now})
	if err != nil {
		t.Fatalf("creating engine: %v", err)
	}
	return &harness{t: t, eng: eng, st: st, clock: clock}
}

// do sends a request whose data is given as JSON (decoded with UseNumber,
// as the server does); "" means no data.
func (h *harness) do(op logical.Operation, path, body string) (*logical.Response, error) {
	h.t.Helper()
	return h.eng.HandleRequest(context.Background(), &logical.Request{
		Operation:  op,
		Path:       path,
		Data:       decode(h.t, body),
		Storage:    h.st,
		MountPoint: "secret/",
	})
}

// must is do that fails the test on an error.
func (h *harness) must(op logical.Operation, path, body string) *logical.Response {
	h.t.Helper()
	resp, err := h.do(op, path, body)
	if err != nil {
		h.t.Fatalf("%s %s: %v", op, path, err)
	}
	return resp
}

func decode(t *testing.T, body string) map[string]any {
	t.Helper()
	out := map[string]any{}
	if body == "" {
		return out
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("bad test JSON %q: %v", body, err)
	}
	return out
}

// roundTrip turns a response's data into what a client sees on the wire.
func roundTrip(t *testing.T, v any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encoding response: %v", err)
	}
	return decode(t, string(raw))
}

func wantKind(t *testing.T, err, kind error, msg string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("got error %v, want kind %v", err, kind)
	}
	if msg != "" && err.Error() != msg {
		t.Fatalf("got message %q, want %q", err.Error(), msg)
	}
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
