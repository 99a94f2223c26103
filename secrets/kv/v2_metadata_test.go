package kv_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/arca-secrets/arca/logical"
	"github.com/google/go-cmp/cmp"
)

func TestV2Config(t *testing.T) {
	h := newHarness(t, "2")
	want := func(body string) {
		t.Helper()
		resp := h.must(logical.ReadOperation, "config", "")
		if diff := cmp.Diff(decode(t, body), roundTrip(t, resp.Data)); diff != "" {
			t.Fatalf("config (-want +got):\n%s", diff)
		}
	}
	want(`{"cas_required":false,"delete_version_after":"0s","max_versions":0}`)
	h.must(logical.UpdateOperation, "config", `{"max_versions":5,"cas_required":true,"delete_version_after":"3h25m19s"}`)
	want(`{"cas_required":true,"delete_version_after":"3h25m19s","max_versions":5}`)
	// Fields not given keep their values.
	h.must(logical.UpdateOperation, "config", `{"cas_required":"false"}`)
	want(`{"cas_required":false,"delete_version_after":"3h25m19s","max_versions":5}`)
	_, err := h.do(logical.DeleteOperation, "config", "")
	wantKind(t, err, logical.ErrUnsupportedOperation, "")
}

func TestV2MetadataRead(t *testing.T) {
	h := newHarness(t, "2")
	h.wantNil(logical.ReadOperation, "metadata/k")
	h.must(logical.UpdateOperation, "data/k", `{"data":{"a":"1"}}`)
	h.clock.Advance(time.Second)
	t2 := h.clock.Now()
	h.must(logical.UpdateOperation, "data/k", `{"data":{"a":"2"}}`)
	h.must(logical.DeleteOperation, "data/k", "")

	want := fmt.Sprintf(`{
		"cas_required": false,
		"created_time": %[1]q,
		"current_version": 2,
		"custom_metadata": null,
		"delete_version_after": "0s",
		"max_versions": 0,
		"oldest_version": 0,
		"updated_time": %[2]q,
		"versions": {
			"1": {"created_time": %[1]q, "deletion_time": "", "destroyed": false},
			"2": {"created_time": %[2]q, "deletion_time": %[2]q, "destroyed": false}
		}
	}`, ts(epoch), ts(t2))
	resp := h.must(logical.ReadOperation, "metadata/k", "")
	if diff := cmp.Diff(decode(t, want), roundTrip(t, resp.Data)); diff != "" {
		t.Fatalf("metadata (-want +got):\n%s", diff)
	}
}

func TestV2MetadataWriteAndPatch(t *testing.T) {
	h := newHarness(t, "2")
	// Metadata may be written before any data.
	h.must(logical.UpdateOperation, "metadata/k",
		`{"max_versions":4,"cas_required":true,"delete_version_after":"1h","custom_metadata":{"owner":"ops","tier":"1"}}`)
	h.clock.Advance(time.Second)
	t2 := h.clock.Now()
	h.must(logical.UpdateOperation, "data/k", `{"data":{"a":"1"},"options":{"cas":0}}`)

	check := func(settings, custom string, updated time.Time) {
		t.Helper()
		resp := h.must(logical.ReadOperation, "metadata/k", "")
		got := roundTrip(t, resp.Data)
		want := decode(t, settings)
		for _, f := range []string{"max_versions", "cas_required", "delete_version_after"} {
			if !cmp.Equal(want[f], got[f]) {
				t.Fatalf("%s: got %v, want %v", f, got[f], want[f])
			}
		}
		if diff := cmp.Diff(decode(t, `{"c":`+custom+`}`)["c"], got["custom_metadata"]); diff != "" {
			t.Fatalf("custom_metadata (-want +got):\n%s", diff)
		}
		if got["updated_time"] != ts(updated) || got["created_time"] != ts(epoch) {
			t.Fatalf("got created %v updated %v, want %s and %s", got["created_time"], got["updated_time"], ts(epoch), ts(updated))
		}
	}
	check(`{"max_versions":4,"cas_required":true,"delete_version_after":"1h0m0s"}`, `{"owner":"ops","tier":"1"}`, t2)

	// The key's custom metadata shows in data reads too.
	resp := h.must(logical.ReadOperation, "data/k", "")
	if diff := cmp.Diff(decode(t, `{"owner":"ops","tier":"1"}`), roundTrip(t, resp.Data["metadata"])["custom_metadata"]); diff != "" {
		t.Fatalf("custom_metadata in data read (-want +got):\n%s", diff)
	}

	// Patch merges custom_metadata (null removes) and keeps other fields.
	h.clock.Advance(time.Second)
	t3 := h.clock.Now()
	h.must(logical.PatchOperation, "metadata/k", `{"custom_metadata":{"tier":null,"team":"db"},"max_versions":6}`)
	check(`{"max_versions":6,"cas_required":true,"delete_version_after":"1h0m0s"}`, `{"owner":"ops","team":"db"}`, t3)

	// A write replaces custom_metadata whole and keeps fields not given.
	h.clock.Advance(time.Second)
	t4 := h.clock.Now()
	h.must(logical.UpdateOperation, "metadata/k", `{"custom_metadata":{"only":"this"},"cas_required":false}`)
	check(`{"max_versions":6,"cas_required":false,"delete_version_after":"1h0m0s"}`, `{"only":"this"}`, t4)

	// Writing metadata does not add versions.
	if got := h.must(logical.ReadOperation, "metadata/k", "").Data["current_version"]; got != 1 {
		t.Fatalf("got current_version %v, want 1", got)
	}
	_, err := h.do(logical.PatchOperation, "metadata/none", `{"max_versions":1}`)
	wantKind(t, err, logical.ErrNotFound, "")
}

func TestV2MetadataList(t *testing.T) {
	h := newHarness(t, "2")
	for _, k := range []string{"app/db", "app/api", "app/nested/x", "top", "app"} {
		h.must(logical.UpdateOperation, "data/"+k, `{"data":{"v":"1"}}`)
	}
	// Metadata without data is listed too; a soft-deleted key still is.
	h.must(logical.UpdateOperation, "metadata/later", `{"max_versions":2}`)
	h.must(logical.DeleteOperation, "data/top", "")
	tests := []struct {
		name string
		path string
		want []string
	}{
		{name: "root", path: "metadata/", want: []string{"app", "app/", "later", "top"}},
		{name: "folder", path: "metadata/app/", want: []string{"api", "db", "nested/"}},
		{name: "nested", path: "metadata/app/nested/", want: []string{"x"}},
		{name: "missing", path: "metadata/nope/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := h.must(logical.ListOperation, tt.path, "")
			if tt.want == nil {
				if resp != nil {
					t.Fatalf("got %v, want nil (404)", resp.Data)
				}
				return
			}
			if diff := cmp.Diff(map[string]any{"keys": tt.want}, resp.Data); diff != "" {
				t.Fatalf("list (-want +got):\n%s", diff)
			}
		})
	}
}

func TestV2MetadataDelete(t *testing.T) {
	h := newHarness(t, "2")
	for i := 0; i < 3; i++ {
		h.must(logical.UpdateOperation, "data/k", `{"data":{"v":"1"}}`)
	}
	h.must(logical.UpdateOperation, "data/other", `{"data":{"v":"2"}}`)
	h.must(logical.UpdateOperation, "destroy/k", `{"versions":[1]}`)
	h.wantNil(logical.DeleteOperation, "metadata/k")

	h.wantNil(logical.ReadOperation, "metadata/k")
	h.wantNil(logical.ReadOperation, "data/k")
	if got := h.st.keysUnder("versions/"); len(got) != 1 {
		t.Fatalf("got version records %v, want only other's", got)
	}
	h.wantData("data/other", "", `{"data":{"v":"2"},"metadata":`+versionMeta(epoch, time.Time{}, false, 1)+`}`)
	// The key starts over.
	resp := h.must(logical.UpdateOperation, "data/k", `{"data":{"v":"new"},"options":{"cas":0}}`)
	if got := resp.Data["version"]; got != 1 {
		t.Fatalf("after metadata delete: got version %v, want 1", got)
	}
	h.wantNil(logical.DeleteOperation, "metadata/none")
}
