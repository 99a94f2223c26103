package kv_test

import (
	"testing"

	"github.com/arca-secrets/arca/logical"
	"github.com/google/go-cmp/cmp"
)

func TestV2PatchMerge(t *testing.T) {
	tests := []struct {
		name  string
		start string
		patch string
		want  string
	}{
		{name: "add and replace", start: `{"a":"1","b":"2"}`, patch: `{"b":"3","c":"4"}`, want: `{"a":"1","b":"3","c":"4"}`},
		{name: "null removes", start: `{"a":"1","b":"2"}`, patch: `{"a":null}`, want: `{"b":"2"}`},
		{name: "null of missing field", start: `{"a":"1"}`, patch: `{"z":null}`, want: `{"a":"1"}`},
		{name: "nested merge", start: `{"n":{"x":1,"y":2},"k":"v"}`, patch: `{"n":{"y":null,"z":3}}`, want: `{"n":{"x":1,"z":3},"k":"v"}`},
		{name: "object replaces scalar", start: `{"a":"1"}`, patch: `{"a":{"b":"c"}}`, want: `{"a":{"b":"c"}}`},
		{name: "scalar replaces object", start: `{"a":{"b":"c"}}`, patch: `{"a":7}`, want: `{"a":7}`},
		{name: "arrays replace whole", start: `{"a":[1,2,3]}`, patch: `{"a":[4]}`, want: `{"a":[4]}`},
		{name: "empty patch", start: `{"a":"1"}`, patch: `{}`, want: `{"a":"1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, "2")
			h.must(logical.UpdateOperation, "data/k", `{"data":`+tt.start+`}`)
			resp := h.must(logical.PatchOperation, "data/k", `{"data":`+tt.patch+`}`)
			if got := resp.Data["version"]; got != 2 {
				t.Fatalf("patch: got version %v, want 2", got)
			}
			got := h.must(logical.ReadOperation, "data/k", "")
			if diff := cmp.Diff(decode(t, tt.want), roundTrip(t, got.Data["data"])); diff != "" {
				t.Fatalf("after patch (-want +got):\n%s", diff)
			}
			// The previous version is untouched.
			old := h.must(logical.ReadOperation, "data/k", `{"version":1}`)
			if diff := cmp.Diff(decode(t, tt.start), roundTrip(t, old.Data["data"])); diff != "" {
				t.Fatalf("version 1 after patch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestV2PatchRefused(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(h *harness)
		body    string
		kind    error
		message string
	}{
		{name: "missing key", setup: func(*harness) {}, body: `{"data":{"a":"b"}}`, kind: logical.ErrNotFound},
		{name: "metadata only", setup: func(h *harness) {
			h.must(logical.UpdateOperation, "metadata/k", `{"max_versions":3}`)
		}, body: `{"data":{"a":"b"}}`, kind: logical.ErrNotFound},
		{name: "latest deleted", setup: func(h *harness) {
			h.must(logical.UpdateOperation, "data/k", `{"data":{"a":"b"}}`)
			h.must(logical.DeleteOperation, "data/k", "")
		}, body: `{"data":{"a":"c"}}`, kind: logical.ErrNotFound},
		{name: "latest destroyed", setup: func(h *harness) {
			h.must(logical.UpdateOperation, "data/k", `{"data":{"a":"b"}}`)
			h.must(logical.UpdateOperation, "destroy/k", `{"versions":[1]}`)
		}, body: `{"data":{"a":"c"}}`, kind: logical.ErrNotFound},
		{name: "cas mismatch", setup: func(h *harness) {
			h.must(logical.UpdateOperation, "data/k", `{"data":{"a":"b"}}`)
		}, body: `{"data":{"a":"c"},"options":{"cas":0}}`, kind: logical.ErrInvalidRequest,
			message: "check-and-set parameter did not match the current version"},
		{name: "cas required", setup: func(h *harness) {
			h.must(logical.UpdateOperation, "data/k", `{"data":{"a":"b"}}`)
			h.must(logical.UpdateOperation, "config", `{"cas_required":true}`)
		}, body: `{"data":{"a":"c"}}`, kind: logical.ErrInvalidRequest,
			message: "check-and-set parameter required for this call"},
		{name: "no data", setup: func(h *harness) {
			h.must(logical.UpdateOperation, "data/k", `{"data":{"a":"b"}}`)
		}, body: `{}`, kind: logical.ErrInvalidRequest},
		{name: "data not an object", setup: func(h *harness) {
			h.must(logical.UpdateOperation, "data/k", `{"data":{"a":"b"}}`)
		}, body: `{"data":"x"}`, kind: logical.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, "2")
			tt.setup(h)
			before := h.st.keysUnder("versions/")
			_, err := h.do(logical.PatchOperation, "data/k", tt.body)
			wantKind(t, err, tt.kind, tt.message)
			if after := h.st.keysUnder("versions/"); !cmp.Equal(before, after) {
				t.Fatalf("refused patch changed stored versions: got %v, want %v", after, before)
			}
		})
	}
}

func TestV2PatchWithCAS(t *testing.T) {
	h := newHarness(t, "2")
	h.must(logical.UpdateOperation, "data/k", `{"data":{"a":"1"}}`)
	resp := h.must(logical.PatchOperation, "data/k", `{"data":{"b":"2"},"options":{"cas":1}}`)
	if got := resp.Data["version"]; got != 2 {
		t.Fatalf("got version %v, want 2", got)
	}
}
