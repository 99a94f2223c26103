package kv_test

import (
	"strings"
	"testing"
	"time"

	"github.com/arca-secrets/arca/logical"
	"github.com/google/go-cmp/cmp"
)

func TestV2BadInput(t *testing.T) {
	long := strings.Repeat("x", 129)
	tests := []struct {
		name string
		op   logical.Operation
		path string
		body string
		kind error
	}{
		{name: "data missing", op: logical.UpdateOperation, path: "data/k", body: `{"options":{}}`, kind: logical.ErrInvalidRequest},
		{name: "data null", op: logical.UpdateOperation, path: "data/k", body: `{"data":null}`, kind: logical.ErrInvalidRequest},
		{name: "data a string", op: logical.UpdateOperation, path: "data/k", body: `{"data":"secret"}`, kind: logical.ErrInvalidRequest},
		{name: "data an array", op: logical.UpdateOperation, path: "data/k", body: `{"data":[1,2]}`, kind: logical.ErrInvalidRequest},
		{name: "options not an object", op: logical.UpdateOperation, path: "data/k", body: `{"data":{},"options":"x"}`, kind: logical.ErrInvalidRequest},
		{name: "cas not an integer", op: logical.UpdateOperation, path: "data/k", body: `{"data":{},"options":{"cas":"one"}}`, kind: logical.ErrInvalidRequest},
		{name: "version not an integer", op: logical.ReadOperation, path: "data/k", body: `{"version":"x"}`, kind: logical.ErrInvalidRequest},
		{name: "depth negative", op: logical.ReadOperation, path: "subkeys/k", body: `{"depth":"-1"}`, kind: logical.ErrInvalidRequest},
		{name: "versions missing", op: logical.UpdateOperation, path: "delete/k", body: `{}`, kind: logical.ErrInvalidRequest},
		{name: "versions empty", op: logical.UpdateOperation, path: "undelete/k", body: `{"versions":[]}`, kind: logical.ErrInvalidRequest},
		{name: "versions not integers", op: logical.UpdateOperation, path: "destroy/k", body: `{"versions":["a"]}`, kind: logical.ErrInvalidRequest},
		{name: "max_versions not an integer", op: logical.UpdateOperation, path: "metadata/k", body: `{"max_versions":"many"}`, kind: logical.ErrInvalidRequest},
		{name: "max_versions negative", op: logical.UpdateOperation, path: "config", body: `{"max_versions":-1}`, kind: logical.ErrInvalidRequest},
		{name: "cas_required not a boolean", op: logical.UpdateOperation, path: "config", body: `{"cas_required":"maybe"}`, kind: logical.ErrInvalidRequest},
		{name: "bad duration", op: logical.UpdateOperation, path: "metadata/k", body: `{"delete_version_after":"soon"}`, kind: logical.ErrInvalidRequest},
		{name: "negative duration", op: logical.UpdateOperation, path: "config", body: `{"delete_version_after":"-1h"}`, kind: logical.ErrInvalidRequest},
		{name: "custom_metadata not an object", op: logical.UpdateOperation, path: "metadata/k", body: `{"custom_metadata":"x"}`, kind: logical.ErrInvalidRequest},
		{name: "custom_metadata value not a string", op: logical.UpdateOperation, path: "metadata/k", body: `{"custom_metadata":{"a":1}}`, kind: logical.ErrInvalidRequest},
		{name: "custom_metadata null value on write", op: logical.UpdateOperation, path: "metadata/k", body: `{"custom_metadata":{"a":null}}`, kind: logical.ErrInvalidRequest},
		{name: "custom_metadata key too long", op: logical.UpdateOperation, path: "metadata/k", body: `{"custom_metadata":{"` + long + `":"v"}}`, kind: logical.ErrInvalidRequest},
		{name: "empty key", op: logical.ReadOperation, path: "data/", kind: logical.ErrInvalidRequest},
		{name: "leading slash in key", op: logical.UpdateOperation, path: "data//k", body: `{"data":{}}`, kind: logical.ErrInvalidRequest},
		{name: "trailing slash in key", op: logical.UpdateOperation, path: "data/k/", body: `{"data":{}}`, kind: logical.ErrInvalidRequest},
		{name: "dot dot in key", op: logical.UpdateOperation, path: "data/a/../k", body: `{"data":{}}`, kind: logical.ErrInvalidRequest},
		{name: "dot in list", op: logical.ListOperation, path: "metadata/./", kind: logical.ErrInvalidRequest},
		{name: "unknown path", op: logical.ReadOperation, path: "secrets/k", kind: logical.ErrUnsupportedPath},
		{name: "bare data", op: logical.ReadOperation, path: "data", kind: logical.ErrUnsupportedPath},
		{name: "list data", op: logical.ListOperation, path: "data/", kind: logical.ErrUnsupportedOperation},
		{name: "read delete path", op: logical.ReadOperation, path: "delete/k", kind: logical.ErrUnsupportedOperation},
		{name: "patch destroy path", op: logical.PatchOperation, path: "destroy/k", body: `{"versions":[1]}`, kind: logical.ErrUnsupportedOperation},
		{name: "write subkeys", op: logical.UpdateOperation, path: "subkeys/k", body: `{}`, kind: logical.ErrUnsupportedOperation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, "2")
			h.must(logical.UpdateOperation, "data/k", `{"data":{"keep":"me"}}`)
			before := h.st.snapshot()
			_, err := h.do(tt.op, tt.path, tt.body)
			wantKind(t, err, tt.kind, "")
			if after := h.st.snapshot(); !cmp.Equal(before, after) {
				t.Fatalf("refused request changed storage: stored entries went from %d to %d", len(before), len(after))
			}
			h.wantData("data/k", "", `{"data":{"keep":"me"},"metadata":`+versionMeta(epoch, time.Time{}, false, 1)+`}`)
		})
	}
}
