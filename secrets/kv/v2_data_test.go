package kv_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/arca-secrets/arca/logical"
	"github.com/google/go-cmp/cmp"
)

// versionMeta is the JSON Vault puts under "metadata" of a data read.
func versionMeta(created, deleted time.Time, destroyed bool, n int) string {
	del := ""
	if !deleted.IsZero() {
		del = ts(deleted)
	}
	return fmt.Sprintf(`{"created_time":%q,"custom_metadata":null,"deletion_time":%q,"destroyed":%t,"version":%d}`,
		ts(created), del, destroyed, n)
}

// wantData reads path with params and checks the whole answer.
func (h *harness) wantData(path, params, want string) {
	h.t.Helper()
	resp := h.must(logical.ReadOperation, path, params)
	if resp == nil {
		h.t.Fatalf("read %s: got nil, want %s", path, want)
	}
	if resp.NotFound {
		h.t.Fatalf("read %s: got NotFound, want found", path)
	}
	if diff := cmp.Diff(decode(h.t, want), roundTrip(h.t, resp.Data)); diff != "" {
		h.t.Fatalf("read %s (-want +got):\n%s", path, diff)
	}
}

// wantGone reads path with params and checks for a 404 that still carries
// wantBody, as Vault answers for deleted and destroyed versions.
func (h *harness) wantGone(path, params, wantBody string) {
	h.t.Helper()
	resp := h.must(logical.ReadOperation, path, params)
	if resp == nil || !resp.NotFound {
		h.t.Fatalf("read %s: got %+v, want a NotFound response", path, resp)
	}
	if diff := cmp.Diff(decode(h.t, wantBody), roundTrip(h.t, resp.Data)); diff != "" {
		h.t.Fatalf("read %s (-want +got):\n%s", path, diff)
	}
}

func (h *harness) wantNil(op logical.Operation, path string) {
	h.t.Helper()
	if resp := h.must(op, path, ""); resp != nil {
		h.t.Fatalf("%s %s: got %+v, want nil (404)", op, path, resp)
	}
}

func TestV2WriteAndRead(t *testing.T) {
	h := newHarness(t, "2")
	h.wantNil(logical.ReadOperation, "data/app")

	body := `{"user":"admin","port":5432,"big":123456789012345678901234567890,"ratio":0.5,"nested":{"list":[1,"two",null]}}`
	resp := h.must(logical.UpdateOperation, "data/app", `{"data":`+body+`}`)
	if diff := cmp.Diff(decode(t, versionMeta(epoch, time.Time{}, false, 1)), roundTrip(t, resp.Data)); diff != "" {
		t.Fatalf("write response (-want +got):\n%s", diff)
	}
	h.wantData("data/app", "", `{"data":`+body+`,"metadata":`+versionMeta(epoch, time.Time{}, false, 1)+`}`)

	h.clock.Advance(time.Second)
	resp = h.must(logical.CreateOperation, "data/app", `{"data":{"user":"second"},"options":{}}`)
	if got := resp.Data["version"]; got != 2 {
		t.Fatalf("second write: got version %v, want 2", got)
	}
	t2 := epoch.Add(time.Second)
	h.wantData("data/app", "", `{"data":{"user":"second"},"metadata":`+versionMeta(t2, time.Time{}, false, 2)+`}`)
}

func TestV2ReadVersion(t *testing.T) {
	h := newHarness(t, "2")
	for i := 1; i <= 3; i++ {
		h.must(logical.UpdateOperation, "data/k", fmt.Sprintf(`{"data":{"n":%d}}`, i))
	}
	tests := []struct {
		name    string
		params  string
		want    string // "" means nil response
		wantErr error
	}{
		{name: "latest", params: ``, want: `{"n":3}`},
		{name: "zero is latest", params: `{"version":"0"}`, want: `{"n":3}`},
		{name: "query string", params: `{"version":"2"}`, want: `{"n":2}`},
		{name: "json number", params: `{"version":1}`, want: `{"n":1}`},
		{name: "beyond current", params: `{"version":"4"}`},
		{name: "not an integer", params: `{"version":"two"}`, wantErr: logical.ErrInvalidRequest},
		{name: "fraction", params: `{"version":1.5}`, wantErr: logical.ErrInvalidRequest},
		{name: "negative", params: `{"version":"-1"}`, wantErr: logical.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := h.do(logical.ReadOperation, "data/k", tt.params)
			if tt.wantErr != nil {
				wantKind(t, err, tt.wantErr, "")
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if tt.want == "" {
				if resp != nil {
					t.Fatalf("got %+v, want nil (404)", resp)
				}
				return
			}
			if diff := cmp.Diff(decode(t, tt.want), roundTrip(t, resp.Data["data"])); diff != "" {
				t.Fatalf("data (-want +got):\n%s", diff)
			}
		})
	}
}

func TestV2CheckAndSet(t *testing.T) {
	const mismatch = "check-and-set parameter did not match the current version"
	const required = "check-and-set parameter required for this call"
	tests := []struct {
		name    string
		setup   []string // writes to data/k before the checked one (no cas)
		config  string   // body for config, if any
		meta    string   // body for metadata/k, if any
		body    string
		wantVer int
		wantMsg string
	}{
		{name: "cas 0 creates", body: `{"data":{"a":"1"},"options":{"cas":0}}`, wantVer: 1},
		{name: "cas 0 on existing", setup: []string{"x"}, body: `{"data":{"a":"1"},"options":{"cas":0}}`, wantMsg: mismatch},
		{name: "cas matches", setup: []string{"x", "y"}, body: `{"data":{"a":"1"},"options":{"cas":2}}`, wantVer: 3},
		{name: "cas stale", setup: []string{"x", "y"}, body: `{"data":{"a":"1"},"options":{"cas":1}}`, wantMsg: mismatch},
		{name: "cas ahead", setup: []string{"x"}, body: `{"data":{"a":"1"},"options":{"cas":5}}`, wantMsg: mismatch},
		{name: "cas as string", setup: []string{"x"}, body: `{"data":{"a":"1"},"options":{"cas":"1"}}`, wantVer: 2},
		{name: "required by mount", config: `{"cas_required":true}`, body: `{"data":{"a":"1"}}`, wantMsg: required},
		{name: "required by mount and given", config: `{"cas_required":true}`, body: `{"data":{"a":"1"},"options":{"cas":0}}`, wantVer: 1},
		{name: "required by key", meta: `{"cas_required":true}`, body: `{"data":{"a":"1"}}`, wantMsg: required},
		{name: "required by key and given", meta: `{"cas_required":true}`, body: `{"data":{"a":"1"},"options":{"cas":0}}`, wantVer: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, "2")
			for _, v := range tt.setup {
				h.must(logical.UpdateOperation, "data/k", `{"data":{"v":"`+v+`"}}`)
			}
			if tt.config != "" {
				h.must(logical.UpdateOperation, "config", tt.config)
			}
			if tt.meta != "" {
				h.must(logical.UpdateOperation, "metadata/k", tt.meta)
			}
			resp, err := h.do(logical.UpdateOperation, "data/k", tt.body)
			if tt.wantMsg != "" {
				wantKind(t, err, logical.ErrInvalidRequest, tt.wantMsg)
				// Nothing was written.
				m := h.must(logical.ReadOperation, "metadata/k", "")
				if m != nil && m.Data["current_version"] != len(tt.setup) {
					t.Fatalf("after refused write: got current_version %v, want %d", m.Data["current_version"], len(tt.setup))
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want version %d", err, tt.wantVer)
			}
			if got := resp.Data["version"]; got != tt.wantVer {
				t.Fatalf("got version %v, want %d", got, tt.wantVer)
			}
		})
	}
}

func TestV2DeleteUndeleteDestroy(t *testing.T) {
	h := newHarness(t, "2")
	for i := 1; i <= 3; i++ {
		h.must(logical.UpdateOperation, "data/k", fmt.Sprintf(`{"data":{"n":%d}}`, i))
	}
	delAt := epoch.Add(time.Minute)
	h.clock.Advance(time.Minute)
	v := func(n int) string { return fmt.Sprintf(`{"version":%d}`, n) }
	live := func(n int) string {
		return fmt.Sprintf(`{"data":{"n":%d},"metadata":%s}`, n, versionMeta(epoch, time.Time{}, false, n))
	}
	deleted := func(n int) string {
		return `{"data":null,"metadata":` + versionMeta(epoch, delAt, false, n) + `}`
	}

	// DELETE data/k soft-deletes the latest version only.
	h.wantNil(logical.DeleteOperation, "data/k")
	h.wantGone("data/k", "", deleted(3))
	h.wantGone("data/k", v(3), deleted(3))
	h.wantData("data/k", v(2), live(2))

	// delete/ soft-deletes the listed versions; unknown ones are ignored.
	h.must(logical.UpdateOperation, "delete/k", `{"versions":[1,42]}`)
	h.wantGone("data/k", v(1), deleted(1))
	h.wantData("data/k", v(2), live(2))

	// undelete/ brings them back.
	h.must(logical.UpdateOperation, "undelete/k", `{"versions":"1,3"}`)
	h.wantData("data/k", v(1), live(1))
	h.wantData("data/k", "", live(3))

	// destroy/ removes the data for good and says so in the metadata.
	h.must(logical.UpdateOperation, "destroy/k", `{"versions":[2]}`)
	h.wantGone("data/k", v(2), `{"data":null,"metadata":`+versionMeta(epoch, time.Time{}, true, 2)+`}`)
	h.must(logical.UpdateOperation, "undelete/k", `{"versions":[2]}`)
	h.wantGone("data/k", v(2), `{"data":null,"metadata":`+versionMeta(epoch, time.Time{}, true, 2)+`}`)
	if got := len(h.st.keysUnder("versions/")); got != 2 {
		t.Fatalf("after destroy: got %d version records, want 2 (%v)", got, h.st.keysUnder("versions/"))
	}
	meta := h.must(logical.ReadOperation, "metadata/k", "")
	versions := roundTrip(t, meta.Data["versions"])
	if diff := cmp.Diff(decode(t, `{"created_time":"`+ts(epoch)+`","deletion_time":"","destroyed":true}`), versions["2"]); diff != "" {
		t.Fatalf("metadata of destroyed version (-want +got):\n%s", diff)
	}

	// A destroyed latest version cannot be soft-deleted, and the calls on a
	// key that does not exist do nothing.
	h.must(logical.UpdateOperation, "destroy/k", `{"versions":[3]}`)
	h.wantNil(logical.DeleteOperation, "data/k")
	for _, p := range []string{"delete/none", "undelete/none", "destroy/none"} {
		if resp := h.must(logical.UpdateOperation, p, `{"versions":[1]}`); resp != nil {
			t.Fatalf("%s: got %+v, want nil", p, resp)
		}
	}
}
