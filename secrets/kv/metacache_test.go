package kv_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/secrets/kv"
)

func currentVersion(t *testing.T, resp *logical.Response) any {
	t.Helper()
	if resp == nil {
		return nil
	}
	return resp.Data["metadata"].(map[string]any)["version"]
}

// Reads are served from cached metadata, yet every change made through
// the engine shows at the next read: new versions, soft deletes,
// destroys, metadata removal.
func TestMetadataCacheFollowsChanges(t *testing.T) {
	h := newHarness(t, "2")
	h.must(logical.UpdateOperation, "data/app", `{"data":{"v":"1"}}`)
	if v := currentVersion(t, h.must(logical.ReadOperation, "data/app", "")); v != 1 {
		t.Fatalf("version %v, want 1", v)
	}
	h.must(logical.UpdateOperation, "data/app", `{"data":{"v":"2"}}`)
	resp := h.must(logical.ReadOperation, "data/app", "")
	if v := currentVersion(t, resp); v != 2 || resp.Data["data"].(map[string]any)["v"] != "2" {
		t.Fatalf("after a second write: %v", resp.Data)
	}
	h.must(logical.UpdateOperation, "delete/app", `{"versions":[2]}`)
	if resp := h.must(logical.ReadOperation, "data/app", ""); !resp.NotFound {
		t.Fatalf("a soft-deleted version still reads: %v", resp.Data)
	}
	h.must(logical.UpdateOperation, "undelete/app", `{"versions":[2]}`)
	if resp := h.must(logical.ReadOperation, "data/app", ""); resp.NotFound {
		t.Fatal("an undeleted version does not read")
	}
	h.must(logical.DeleteOperation, "metadata/app", "")
	if resp, err := h.do(logical.ReadOperation, "data/app", ""); err != nil || resp != nil {
		t.Fatalf("a key whose metadata was deleted: %v %v, want no answer", resp, err)
	}
}

// Two engines over one storage stand for two nodes: a write through one
// reaches the other's reads once the other is told (Invalidate), as core
// does for a Raft follower; an empty key forgets everything.
func TestMetadataCacheInvalidate(t *testing.T) {
	a := newHarness(t, "2")
	eng, err := kv.Factory(context.Background(), logical.MountConfig{Options: map[string]string{"version": "2"}, Storage: a.st, Now: a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	b := &harness{t: t, eng: eng, st: a.st, clock: a.clock}
	a.must(logical.UpdateOperation, "data/x", `{"data":{"v":"1"}}`)
	a.must(logical.UpdateOperation, "data/y", `{"data":{"v":"1"}}`)
	for _, k := range []string{"x", "y"} {
		if v := currentVersion(t, b.must(logical.ReadOperation, "data/"+k, "")); v != 1 {
			t.Fatalf("%s: version %v, want 1", k, v)
		}
	}
	a.must(logical.UpdateOperation, "data/x", `{"data":{"v":"2"}}`)
	a.must(logical.UpdateOperation, "data/y", `{"data":{"v":"2"}}`)
	inv := b.eng.(logical.Invalidator)
	inv.Invalidate(context.Background(), "meta/x")
	if v := currentVersion(t, b.must(logical.ReadOperation, "data/x", "")); v != 2 {
		t.Errorf("x after Invalidate: version %v, want 2", v)
	}
	inv.Invalidate(context.Background(), "")
	if v := currentVersion(t, b.must(logical.ReadOperation, "data/y", "")); v != 2 {
		t.Errorf("y after Invalidate(\"\"): version %v, want 2", v)
	}
}

// Readers racing writers never keep stale metadata: once the writers are
// done, every key reads its last version.
func TestMetadataCacheUnderConcurrency(t *testing.T) {
	h := newHarness(t, "2")
	const keys, writes = 4, 30
	var wg sync.WaitGroup
	for k := range keys {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range writes {
				if _, err := h.do(logical.UpdateOperation, fmt.Sprintf("data/k%d", k), fmt.Sprintf(`{"data":{"v":"%d"}}`, i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range writes * 3 {
				if _, err := h.do(logical.ReadOperation, fmt.Sprintf("data/k%d", k), ""); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for k := range keys {
		if v := currentVersion(t, h.must(logical.ReadOperation, fmt.Sprintf("data/k%d", k), "")); fmt.Sprint(v) != fmt.Sprint(writes) {
			t.Errorf("k%d reads version %v after %d writes", k, v, writes)
		}
	}
}
