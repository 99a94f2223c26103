package userpass_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/arca-secrets/arca/auth/userpass"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/inmem"
)

// harness is one mounted userpass method over its own storage.
type harness struct {
	t   *testing.T
	eng logical.Engine
	st  *inmem.Backend
	// view, when set, is the storage requests carry instead of st.
	view storage.Backend
}

// cheapMemoryKiB keeps argon2id fast in tests; the production cost has a
// test of its own.
const cheapMemoryKiB = 64

func newHarness(t *testing.T) *harness {
	t.Helper()
	st := inmem.New()
	return &harness{t: t, eng: userpass.NewCheap(logical.MountConfig{Storage: st}, cheapMemoryKiB), st: st}
}

// do sends a request whose data is given as JSON (decoded with UseNumber,
// as the server does); "" means no data.
func (h *harness) do(op logical.Operation, path, body string) (*logical.Response, error) {
	h.t.Helper()
	var st storage.Backend = h.st
	if h.view != nil {
		st = h.view
	}
	return h.eng.HandleRequest(context.Background(), &logical.Request{
		Operation: op, Path: path, Data: decode(h.t, body), Storage: st,
		MountPoint: "auth/userpass/", ClientAddr: "10.0.0.1",
	})
}

func (h *harness) must(op logical.Operation, path, body string) *logical.Response {
	h.t.Helper()
	resp, err := h.do(op, path, body)
	if err != nil {
		h.t.Fatalf("%s %s: %v", op, path, err)
	}
	return resp
}

func (h *harness) login(name, password string) (*logical.Response, error) {
	h.t.Helper()
	body, _ := json.Marshal(map[string]string{"password": password})
	return h.do(logical.UpdateOperation, "login/"+name, string(body))
}

// stored returns the raw JSON of every stored user.
func (h *harness) stored() map[string]string {
	h.t.Helper()
	names, err := h.st.List(context.Background(), "user/")
	if err != nil {
		h.t.Fatalf("listing: %v", err)
	}
	out := map[string]string{}
	for _, n := range names {
		e, err := h.st.Get(context.Background(), "user/"+n)
		if err != nil || e == nil {
			h.t.Fatalf("reading %q: %v", n, err)
		}
		out[n] = string(e.Value)
	}
	return out
}

// storedParams decodes the argon2id parameters kept with a user's hash.
func (h *harness) storedParams(name string) map[string]any {
	h.t.Helper()
	var u map[string]any
	if err := json.Unmarshal([]byte(h.stored()[name]), &u); err != nil {
		h.t.Fatalf("decoding user: %v", err)
	}
	ph, _ := u["password_hash"].(map[string]any)
	p, _ := ph["params"].(map[string]any)
	if p == nil {
		h.t.Fatalf("user %q has no stored hash parameters: %v", name, u)
	}
	return p
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

func roundTrip(t *testing.T, v any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encoding: %v", err)
	}
	return decode(t, string(raw))
}

func wantKind(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("got error %v, want kind %v", err, kind)
	}
}

// wantInvalidLogin checks the one uniform login failure.
func wantInvalidLogin(t *testing.T, resp *logical.Response, err error) {
	t.Helper()
	wantKind(t, err, logical.ErrInvalidRequest)
	if got, want := err.Error(), "invalid username or password"; got != want {
		t.Fatalf("got message %q, want %q", got, want)
	}
	if resp != nil {
		t.Fatalf("got response %+v with the error, want none", resp)
	}
}
