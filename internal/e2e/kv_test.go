package e2e

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openbao/openbao/api/v2"
)

func TestKVv2ThroughOpenBaoClient(t *testing.T) {
	_, c := startDev(t, "dev-root")
	kv := c.KVv2("secret")
	ctx := t.Context()

	s, err := kv.Put(ctx, "app", map[string]any{"db_password": "p1", "user": "app"})
	if err != nil {
		t.Fatal(err)
	}
	if s.VersionMetadata == nil || s.VersionMetadata.Version != 1 {
		t.Fatalf("first put: version metadata %+v, want version 1", s.VersionMetadata)
	}
	if _, err := kv.Put(ctx, "app", map[string]any{"db_password": "p2"}, api.WithCheckAndSet(1)); err != nil {
		t.Fatal(err)
	}
	// CAS mismatch: 400, and nothing written.
	if _, err := kv.Put(ctx, "app", map[string]any{"db_password": "p3"}, api.WithCheckAndSet(1)); statusOf(err) != 400 {
		t.Fatalf("cas mismatch: got %v, want 400", err)
	}
	got, err := kv.Get(ctx, "app")
	if err != nil || got.Data["db_password"] != "p2" || got.VersionMetadata.Version != 2 {
		t.Fatalf("latest: %+v, %v", got, err)
	}
	old, err := kv.GetVersion(ctx, "app", 1)
	if err != nil || old.Data["db_password"] != "p1" || old.Data["user"] != "app" {
		t.Fatalf("version 1: %+v, %v", old, err)
	}
	if _, err := kv.GetVersion(ctx, "app", 9); err == nil {
		t.Fatal("reading a version that does not exist succeeded")
	}

	// Patch merges into the latest version.
	if _, err := kv.Patch(ctx, "app", map[string]any{"user": "svc"}); err != nil {
		t.Fatal(err)
	}
	got, err = kv.Get(ctx, "app")
	if err != nil || got.Data["db_password"] != "p2" || got.Data["user"] != "svc" {
		t.Fatalf("after patch: %+v, %v", got, err)
	}

	// Soft delete, undelete, destroy.
	if err := kv.Delete(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	// Like Vault: a deleted version reads as 404 with its metadata, which
	// the client turns into no data and a deletion time.
	if del, err := kv.Get(ctx, "app"); err != nil || del.Data != nil || del.VersionMetadata.DeletionTime.IsZero() {
		t.Fatalf("read of deleted version: got %+v, %v; want no data and a deletion time", del, err)
	}
	if code, _ := rawRequest(t, strings.TrimPrefix(c.Address(), "http://"), "dev-root", "GET", "/v1/secret/data/app", nil); code != 404 {
		t.Fatalf("raw read of deleted version: got %d, want 404", code)
	}
	if err := kv.Undelete(ctx, "app", []int{3}); err != nil {
		t.Fatal(err)
	}
	if got, err = kv.Get(ctx, "app"); err != nil || got.Data["user"] != "svc" {
		t.Fatalf("after undelete: %+v, %v", got, err)
	}
	if err := kv.Destroy(ctx, "app", []int{1}); err != nil {
		t.Fatal(err)
	}
	if d, err := kv.GetVersion(ctx, "app", 1); err != nil || d.Data != nil || !d.VersionMetadata.Destroyed {
		t.Fatalf("destroyed version: got %+v, %v; want no data, destroyed", d, err)
	}
	md, err := kv.GetMetadata(ctx, "app")
	if err != nil || md.CurrentVersion != 3 || len(md.Versions) != 3 || !md.Versions["1"].Destroyed {
		t.Fatalf("metadata: %+v, %v", md, err)
	}

	// List with folders.
	if _, err := kv.Put(ctx, "team/db", map[string]any{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	list, err := c.Logical().List("secret/metadata/")
	if err != nil || list == nil {
		t.Fatalf("list: %v, %v", list, err)
	}
	keys := list.Data["keys"].([]any)
	if len(keys) != 2 || keys[0] != "app" || keys[1] != "team/" {
		t.Fatalf("list keys: got %v, want [app team/]", keys)
	}

	// The preflight call the vault/bao CLIs make.
	ui, err := c.Logical().Read("sys/internal/ui/mounts/secret/app")
	if err != nil || ui.Data["path"] != "secret/" || ui.Data["options"].(map[string]any)["version"] != "2" {
		t.Fatalf("ui mounts: %+v, %v", ui, err)
	}
}

func TestKVv1AndMounts(t *testing.T) {
	_, c := startDev(t, "dev-root")
	if err := c.Sys().Mount("kv1", &api.MountInput{Type: "kv", Description: "v1 store"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().Mount("kv1/nested", &api.MountInput{Type: "kv"}); statusOf(err) != 400 {
		t.Fatalf("nested mount: got %v, want 400", err)
	}
	if err := c.Sys().Mount("other", &api.MountInput{Type: "no-such-engine"}); statusOf(err) != 400 {
		t.Fatalf("unknown type: got %v, want 400", err)
	}
	mounts, err := c.Sys().ListMounts()
	if err != nil {
		t.Fatal(err)
	}
	if m := mounts["kv1/"]; m == nil || m.Type != "kv" || m.Description != "v1 store" {
		t.Fatalf("kv1/ in mount list: %+v", m)
	}
	if m := mounts["secret/"]; m == nil || m.Options["version"] != "2" {
		t.Fatalf("secret/ in mount list: %+v", m)
	}
	kv := c.KVv1("kv1")
	if err := kv.Put(t.Context(), "a/b", map[string]any{"x": "1"}); err != nil {
		t.Fatal(err)
	}
	s, err := kv.Get(t.Context(), "a/b")
	if err != nil || s.Data["x"] != "1" {
		t.Fatalf("v1 get: %+v, %v", s, err)
	}
	if err := c.Sys().TuneMount("kv1", api.MountConfigInput{DefaultLeaseTTL: "1h", MaxLeaseTTL: "2h"}); err != nil {
		t.Fatal(err)
	}
	tc, err := c.Sys().MountConfig("kv1")
	if err != nil || tc.DefaultLeaseTTL != 3600 || tc.MaxLeaseTTL != 7200 {
		t.Fatalf("tune: %+v, %v", tc, err)
	}
	if err := c.Sys().Unmount("kv1"); err != nil {
		t.Fatal(err)
	}
	if code, body := rawRequest(t, strings.TrimPrefix(c.Address(), "http://"), "dev-root", "GET", "/v1/kv1/a/b", nil); code != 404 || !strings.Contains(body, "no handler") {
		t.Fatalf("read after unmount: got %d %s, want 404 no handler", code, body)
	}
	// Mounting again at the same path starts empty.
	if err := c.Sys().Mount("kv1", &api.MountInput{Type: "kv"}); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(t.Context(), "a/b"); !errors.Is(err, api.ErrSecretNotFound) {
		t.Fatalf("read after remount: got %v, want not found", err)
	}
}

func TestHTTPErrors(t *testing.T) {
	p, c := startDev(t, "dev-root")
	addr := p.addr
	cases := []struct {
		name, token, method, path, body string
		want                            int
		wantMsg                         string
	}{
		{"no token", "", "GET", "/v1/secret/data/x", "", 403, "permission denied"},
		{"bad token", "nope", "GET", "/v1/secret/data/x", "", 403, "permission denied"},
		{"bearer header is not needed for 404", "dev-root", "GET", "/v1/secret/data/missing", "", 404, ""},
		{"malformed json", "dev-root", "PUT", "/v1/secret/data/x", `{"data":`, 400, "JSON"},
		{"body not an object", "dev-root", "PUT", "/v1/secret/data/x", `[1,2]`, 400, "JSON"},
		{"unknown sys path", "dev-root", "GET", "/v1/sys/nope", "", 404, "unsupported path"},
		{"unknown mount", "dev-root", "GET", "/v1/nomount/x", "", 404, "no handler for route"},
		{"wrong method on sys", "dev-root", "DELETE", "/v1/sys/seal-status", "", 405, ""},
		{"dot segment", "dev-root", "GET", "/v1/secret/data/a/../b", "", 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body *strings.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			} else {
				body = strings.NewReader("")
			}
			got, resp := rawRequest(t, addr, tc.token, tc.method, tc.path, body)
			if got != tc.want {
				t.Fatalf("got %d (%s), want %d", got, resp, tc.want)
			}
			if !strings.Contains(resp, `"errors"`) {
				t.Fatalf("body %q is not Vault's error shape", resp)
			}
			if tc.wantMsg != "" && !strings.Contains(resp, tc.wantMsg) {
				t.Fatalf("body %q lacks %q", resp, tc.wantMsg)
			}
		})
	}
	// Bearer works like X-Vault-Token; LIST and ?list=true both list.
	req, _ := http.NewRequest("LIST", "http://"+addr+"/v1/secret/metadata/", nil)
	req.Header.Set("Authorization", "Bearer dev-root")
	if _, err := c.KVv2("secret").Put(t.Context(), "k", map[string]any{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("LIST with bearer: %v %v", resp, err)
	}
	resp.Body.Close()
	if got, body := rawRequest(t, addr, "dev-root", "GET", "/v1/secret/metadata/?list=true", nil); got != 200 || !strings.Contains(body, `"k"`) {
		t.Fatalf("?list=true: %d %s", got, body)
	}
}

func TestDotSegmentsRefusedEverywhere(t *testing.T) {
	p, _ := startDev(t, "root")
	for _, path := range []string{"/v1/sys/mounts/../policy/x", "/v1/sys/policies/acl/..", "/v1/sys//mounts", "/v1/auth/token/../../sys/seal"} {
		if code, body := rawRequest(t, p.addr, "root", "PUT", path, strings.NewReader(`{"policy":"path \"x\" { capabilities = [\"read\"] }"}`)); code != 400 {
			t.Errorf("PUT %s: got %d %s, want 400", path, code, body)
		}
	}
}
