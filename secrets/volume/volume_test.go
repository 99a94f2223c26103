package volume

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/arca-secrets/arca/internal/clocktest"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/inmem"
)

type harness struct {
	t     *testing.T
	e     logical.Engine
	st    storage.Backend
	clock *clocktest.Clock
}

func newHarness(t *testing.T) *harness {
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

func (h *harness) write(path string, data map[string]any) map[string]any {
	h.t.Helper()
	return h.must(logical.UpdateOperation, path, data)
}

// fails asserts that the request fails with an error of kind whose message
// holds want, and returns the message.
func (h *harness) fails(kind error, want string, op logical.Operation, path string, data map[string]any) string {
	h.t.Helper()
	r, err := h.do(op, path, data)
	if !errors.Is(err, kind) || !strings.Contains(fmt.Sprint(err), want) {
		h.t.Fatalf("%s %s: got (%v, %v), want an error of kind %v saying %q", op, path, r, err, kind, want)
	}
	return err.Error()
}

// newPassphrase creates volume name if needed and returns a passphrase and
// its wrapped form.
func (h *harness) newPassphrase(name string) (pass, wrapped string) {
	h.t.Helper()
	h.write("volumes/"+name, nil)
	d := h.write("volumes/"+name+"/passphrase", nil)
	return d["passphrase"].(string), d["wrapped"].(string)
}

func (h *harness) unwrap(name, wrapped string) string {
	h.t.Helper()
	return h.write("volumes/"+name+"/unwrap", map[string]any{"wrapped": wrapped})["passphrase"].(string)
}

func TestPassphraseRoundTrip(t *testing.T) {
	h := newHarness(t)
	pass, wrapped := h.newPassphrase("web1")
	raw, err := hex.DecodeString(pass)
	if err != nil || len(raw) != 64 {
		t.Fatalf("passphrase %d hex chars (%v), want 128 hex digits (512 bits)", len(pass), err)
	}
	if !strings.HasPrefix(wrapped, "arca:v1:") || strings.Contains(wrapped, pass) {
		t.Fatalf("wrapped form %q: want arca:v1: and no passphrase inside", wrapped)
	}
	if got := h.unwrap("web1", wrapped); got != pass {
		t.Fatalf("unwrap: got %q, want %q", got, pass)
	}
	_, w2 := h.newPassphrase("web1")
	p2 := h.unwrap("web1", w2)
	if p2 == pass || w2 == wrapped {
		t.Fatal("two passphrases of one volume are equal")
	}
}

func TestMetadataListDelete(t *testing.T) {
	h := newHarness(t)
	h.write("volumes/b", nil)
	h.write("volumes/a", nil)
	keys := h.must(logical.ListOperation, "volumes/", nil)["keys"]
	if fmt.Sprint(keys) != "[a b]" {
		t.Fatalf("list: got %v, want [a b]", keys)
	}
	meta := h.must(logical.ReadOperation, "volumes/a", nil)
	if meta["latest_version"] != 1 || meta["revoked"] != false {
		t.Fatalf("metadata: %v", meta)
	}
	raw, _ := json.Marshal(meta)
	stored, _ := h.st.Get(context.Background(), "volume/a")
	var v vol
	if err := json.Unmarshal(stored.Value, &v); err != nil {
		t.Fatal(err)
	}
	if b64 := base64.StdEncoding.EncodeToString(v.Versions[0].Key.b); strings.Contains(string(raw), b64) {
		t.Fatal("metadata shows the key")
	}
	if s := fmt.Sprintf("%v %+v %#v", v.Versions[0].Key, v, v); strings.Contains(s, fmt.Sprint(v.Versions[0].Key.b)) || !strings.Contains(s, "REDACTED") {
		t.Fatalf("printing a key shows its bytes: %s", s)
	}
	h.must(logical.DeleteOperation, "volumes/a", nil)
	if r, err := h.do(logical.ReadOperation, "volumes/a", nil); r != nil || err != nil {
		t.Fatalf("read after delete: got (%v, %v), want nothing", r, err)
	}
	h.fails(logical.ErrNotFound, "no volume named a", logical.UpdateOperation, "volumes/a/passphrase", nil)
}

func TestBadNamesAndPaths(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{"volumes/..", "volumes/a b", "volumes/" + strings.Repeat("x", 129)} {
		h.fails(logical.ErrInvalidRequest, "invalid volume name", logical.UpdateOperation, p, nil)
	}
	h.fails(logical.ErrUnsupportedPath, "no handler", logical.ReadOperation, "keys/x", nil)
	h.fails(logical.ErrUnsupportedPath, "no handler", logical.UpdateOperation, "volumes/x/other", nil)
	h.fails(logical.ErrUnsupportedOperation, "not supported", logical.ReadOperation, "volumes/x/unwrap", nil)
}

// TestTamper: a wrapped form opens only for its own volume, unaltered.
func TestTamper(t *testing.T) {
	h := newHarness(t)
	_, wrapped := h.newPassphrase("web1")
	_, other := h.newPassphrase("web2")
	body := strings.TrimPrefix(wrapped, "arca:v1:")
	raw, _ := base64.StdEncoding.DecodeString(body)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return "arca:v1:" + base64.StdEncoding.EncodeToString(b)
	}
	tests := []struct {
		name, volume, wrapped, want string
	}{
		{"other volume's wrapping", "web1", other, "does not open"},
		{"moved to another volume", "web2", wrapped, "does not open"},
		{"nonce altered", "web1", flip(0), "does not open"},
		{"ciphertext altered", "web1", flip(20), "does not open"},
		{"tag altered", "web1", flip(len(raw) - 1), "does not open"},
		{"truncated", "web1", "arca:v1:" + base64.StdEncoding.EncodeToString(raw[:20]), "not a wrapped"},
		{"version changed", "web1", "arca:v2:" + body, "no key version 2"},
		{"version spelled oddly", "web1", "arca:v01:" + body, "not a wrapped"},
		{"no prefix", "web1", body, "not a wrapped"},
		{"not base64", "web1", "arca:v1:%%%", "not a wrapped"},
		{"empty", "web1", "", "missing wrapped"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.fails(logical.ErrInvalidRequest, tc.want, logical.UpdateOperation, "volumes/"+tc.volume+"/unwrap", map[string]any{"wrapped": tc.wrapped})
		})
	}
}

// TestRotateAndRewrap: after rotate, new wrappings use version 2, old ones
// still unwrap, and rewrap moves one to version 2 keeping its passphrase.
func TestRotateAndRewrap(t *testing.T) {
	h := newHarness(t)
	pass, wrapped := h.newPassphrase("web1")
	if got := h.write("volumes/web1/rotate", nil)["latest_version"]; got != 2 {
		t.Fatalf("rotate: latest_version %v, want 2", got)
	}
	_, w2 := h.newPassphrase("web1")
	if !strings.HasPrefix(w2, "arca:v2:") {
		t.Fatalf("after rotate: %q, want arca:v2:", w2)
	}
	if got := h.unwrap("web1", wrapped); got != pass {
		t.Fatal("a v1 wrapping no longer unwraps after rotate")
	}
	re := h.write("volumes/web1/rewrap", map[string]any{"wrapped": wrapped})
	if !strings.HasPrefix(re["wrapped"].(string), "arca:v2:") || strings.Contains(fmt.Sprint(re), pass) {
		t.Fatalf("rewrap: %v", re)
	}
	if got := h.unwrap("web1", re["wrapped"].(string)); got != pass {
		t.Fatal("rewrapped form opens to another passphrase")
	}
}

// TestRevoke: after revoke no wrapping of any version unwraps, the key
// bytes are gone from storage, and the error says the volume was revoked.
func TestRevoke(t *testing.T) {
	h := newHarness(t)
	_, w1 := h.newPassphrase("web1")
	h.write("volumes/web1/rotate", nil)
	_, w2 := h.newPassphrase("web1")
	before, _ := h.st.Get(context.Background(), "volume/web1")
	var v vol
	if err := json.Unmarshal(before.Value, &v); err != nil {
		t.Fatal(err)
	}
	h.write("volumes/web1/revoke", nil)
	for _, w := range []string{w1, w2} {
		h.fails(logical.ErrInvalidRequest, "volume web1 was revoked", logical.UpdateOperation, "volumes/web1/unwrap", map[string]any{"wrapped": w})
	}
	for _, op := range []string{"passphrase", "rotate", "rewrap"} {
		h.fails(logical.ErrInvalidRequest, "was revoked", logical.UpdateOperation, "volumes/web1/"+op, map[string]any{"wrapped": w1})
	}
	after, _ := h.st.Get(context.Background(), "volume/web1")
	for _, kv := range v.Versions {
		if strings.Contains(string(after.Value), base64.StdEncoding.EncodeToString(kv.Key.b)) {
			t.Fatalf("key version %d is still stored after revoke", kv.Version)
		}
	}
	meta := h.must(logical.ReadOperation, "volumes/web1", nil)
	if meta["revoked"] != true || meta["revoked_time"] == nil {
		t.Fatalf("metadata after revoke: %v", meta)
	}
	// Creating it again does not bring it back; deleting then creating
	// makes a new volume whose key opens none of the old wrappings.
	h.write("volumes/web1", nil)
	h.fails(logical.ErrInvalidRequest, "was revoked", logical.UpdateOperation, "volumes/web1/unwrap", map[string]any{"wrapped": w1})
	h.must(logical.DeleteOperation, "volumes/web1", nil)
	h.write("volumes/web1", nil)
	h.fails(logical.ErrInvalidRequest, "does not open", logical.UpdateOperation, "volumes/web1/unwrap", map[string]any{"wrapped": w1})
	h.fails(logical.ErrNotFound, "no volume", logical.UpdateOperation, "volumes/nope/revoke", nil)
}

func TestExists(t *testing.T) {
	h := newHarness(t)
	check := func(path string, want bool) {
		t.Helper()
		got, err := h.e.(logical.ExistenceChecker).Exists(context.Background(), &logical.Request{Path: path, Storage: h.st})
		if err != nil || got != want {
			t.Fatalf("Exists(%s): got (%v, %v), want %v", path, got, err, want)
		}
	}
	check("volumes/a", false)
	h.write("volumes/a", nil)
	check("volumes/a", true)
	check("volumes/zz/unwrap", true)
}

func FuzzParseWrapped(f *testing.F) {
	f.Add("arca:v1:AAAA")
	f.Add("arca:v12:" + base64.StdEncoding.EncodeToString(make([]byte, 40)))
	f.Fuzz(func(t *testing.T, s string) {
		v, body, err := parseWrapped(s)
		if err != nil {
			return
		}
		again := fmt.Sprintf("arca:v%d:%s", v, base64.StdEncoding.EncodeToString(body))
		if again != s {
			t.Fatalf("%q parses but prints back as %q", s, again)
		}
	})
}
