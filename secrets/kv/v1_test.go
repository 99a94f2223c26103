package kv_test

import (
	"context"
	"testing"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/secrets/kv"
	"github.com/google/go-cmp/cmp"
)

func TestFactoryVersions(t *testing.T) {
	tests := []struct {
		name    string
		version string
		wantErr bool
	}{
		{name: "empty means v1", version: ""},
		{name: "v1", version: "1"},
		{name: "v2", version: "2"},
		{name: "unknown", version: "3", wantErr: true},
		{name: "not a number", version: "two", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng, err := kv.Factory(context.Background(), logical.MountConfig{Options: map[string]string{"version": tt.version}, Storage: newMemBackend()})
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got engine, want error")
				}
				return
			}
			if err != nil || eng == nil {
				t.Fatalf("got (%v, %v), want an engine", eng, err)
			}
		})
	}
}

func TestFactoryVersionsBehaveDifferently(t *testing.T) {
	// The same write means different things to v1 and v2: v2 has a config
	// path, v1 stores "config" as an ordinary secret.
	v1 := newHarness(t, "1")
	v1.must(logical.UpdateOperation, "config", `{"max_versions":"x"}`)
	v2 := newHarness(t, "2")
	_, err := v2.do(logical.UpdateOperation, "config", `{"max_versions":"x"}`)
	wantKind(t, err, logical.ErrInvalidRequest, "")
}

func TestV1CRUD(t *testing.T) {
	h := newHarness(t, "1")
	if resp := h.must(logical.ReadOperation, "app/db", ""); resp != nil {
		t.Fatalf("read before write: got %v, want nil", resp.Data)
	}
	body := `{"user":"admin","port":5432,"big":123456789012345678901234567890,"nested":{"list":[1,"two",null],"ok":true}}`
	if resp := h.must(logical.CreateOperation, "app/db", body); resp != nil {
		t.Fatalf("write: got response %v, want nil (204)", resp.Data)
	}
	resp := h.must(logical.ReadOperation, "app/db", "")
	if diff := cmp.Diff(decode(t, body), resp.Data); diff != "" {
		t.Fatalf("read after write (-want +got):\n%s", diff)
	}

	h.must(logical.UpdateOperation, "app/db", `{"user":"other"}`)
	resp = h.must(logical.ReadOperation, "app/db", "")
	if diff := cmp.Diff(decode(t, `{"user":"other"}`), resp.Data); diff != "" {
		t.Fatalf("read after overwrite (-want +got):\n%s", diff)
	}

	h.must(logical.DeleteOperation, "app/db", "")
	if resp := h.must(logical.ReadOperation, "app/db", ""); resp != nil {
		t.Fatalf("read after delete: got %v, want nil", resp.Data)
	}
	// Deleting what is not there is not an error.
	h.must(logical.DeleteOperation, "app/db", "")
}

func TestV1List(t *testing.T) {
	h := newHarness(t, "1")
	for _, p := range []string{"a", "a/b", "a/c/d", "z"} {
		h.must(logical.UpdateOperation, p, `{"v":"x"}`)
	}
	tests := []struct {
		name   string
		prefix string
		want   []string
	}{
		{name: "root", prefix: "", want: []string{"a", "a/", "z"}},
		{name: "folder", prefix: "a/", want: []string{"b", "c/"}},
		{name: "nested folder", prefix: "a/c/", want: []string{"d"}},
		{name: "missing", prefix: "nope/", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := h.must(logical.ListOperation, tt.prefix, "")
			if tt.want == nil {
				if resp != nil {
					t.Fatalf("got %v, want nil (404)", resp.Data)
				}
				return
			}
			if diff := cmp.Diff(map[string]any{"keys": tt.want}, resp.Data); diff != "" {
				t.Fatalf("list %q (-want +got):\n%s", tt.prefix, diff)
			}
		})
	}
}

func TestV1BadInput(t *testing.T) {
	h := newHarness(t, "1")
	tests := []struct {
		name string
		op   logical.Operation
		path string
		body string
		kind error
	}{
		{name: "no data", op: logical.UpdateOperation, path: "a", body: "", kind: logical.ErrInvalidRequest},
		{name: "empty path", op: logical.ReadOperation, path: "", kind: logical.ErrInvalidRequest},
		{name: "leading slash", op: logical.ReadOperation, path: "/a", kind: logical.ErrInvalidRequest},
		{name: "trailing slash", op: logical.UpdateOperation, path: "a/", body: `{"a":"b"}`, kind: logical.ErrInvalidRequest},
		{name: "empty segment", op: logical.ReadOperation, path: "a//b", kind: logical.ErrInvalidRequest},
		{name: "dot dot", op: logical.ReadOperation, path: "a/../b", kind: logical.ErrInvalidRequest},
		{name: "list without slash", op: logical.ListOperation, path: "a", kind: logical.ErrInvalidRequest},
		{name: "patch", op: logical.PatchOperation, path: "a", body: `{"a":"b"}`, kind: logical.ErrUnsupportedOperation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.do(tt.op, tt.path, tt.body)
			wantKind(t, err, tt.kind, "")
		})
	}
	if keys := h.st.keysUnder(""); len(keys) != 0 {
		t.Fatalf("bad input stored %v, want nothing", keys)
	}
}
