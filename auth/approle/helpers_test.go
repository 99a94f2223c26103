package approle_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/arca-secrets/arca/auth/approle"
	"github.com/arca-secrets/arca/internal/clocktest"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage/inmem"
)

// harness is one mounted AppRole method over its own storage and clock.
type harness struct {
	t     *testing.T
	eng   logical.Engine
	st    *inmem.Backend
	clock *clocktest.Clock
	// addr is the client address requests come from.
	addr string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	st := inmem.New()
	clock := clocktest.New()
	eng, err := approle.Factory(context.Background(), logical.MountConfig{Storage: st, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, eng: eng, st: st, clock: clock, addr: "10.0.0.1"}
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
		MountPoint: "auth/approle/",
		ClientAddr: h.addr,
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

// roleID reads a role's role ID.
func (h *harness) roleID(name string) string {
	h.t.Helper()
	return h.must(logical.ReadOperation, "role/"+name+"/role-id", "").Data["role_id"].(string)
}

// secretID generates a secret ID for a role with the given body and
// returns it and its accessor.
func (h *harness) secretID(name, body string) (id, accessor string) {
	h.t.Helper()
	resp := h.must(logical.UpdateOperation, "role/"+name+"/secret-id", body)
	return resp.Data["secret_id"].(string), resp.Data["secret_id_accessor"].(string)
}

// login logs in with a role ID and secret ID.
func (h *harness) login(roleID, secretID string) (*logical.Response, error) {
	h.t.Helper()
	body, _ := json.Marshal(map[string]string{"role_id": roleID, "secret_id": secretID})
	return h.do(logical.UpdateOperation, "login", string(body))
}

// dump returns every stored key and value, walking the storage tree.
func (h *harness) dump() map[string]string {
	h.t.Helper()
	out := map[string]string{}
	var walk func(prefix string)
	walk = func(prefix string) {
		names, err := h.st.List(context.Background(), prefix)
		if err != nil {
			h.t.Fatalf("listing %q: %v", prefix, err)
		}
		for _, n := range names {
			if strings.HasSuffix(n, "/") {
				walk(prefix + n)
				continue
			}
			e, err := h.st.Get(context.Background(), prefix+n)
			if err != nil || e == nil {
				h.t.Fatalf("reading %q: %v", prefix+n, err)
			}
			out[prefix+n] = string(e.Value)
		}
	}
	walk("")
	return out
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
	if got, want := err.Error(), "invalid role or secret ID"; got != want {
		t.Fatalf("got message %q, want %q", got, want)
	}
	if resp != nil {
		t.Fatalf("got response %+v with the error, want none", resp)
	}
}
