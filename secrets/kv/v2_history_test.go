package kv_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/arca-secrets/arca/internal/clocktest"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/secrets/kv"
	"github.com/arca-secrets/arca/storage/storagetest"
	"github.com/google/go-cmp/cmp"
)

// versionNumbers returns the versions that metadata/<key> lists, sorted.
func (h *harness) versionNumbers(key string) []int {
	h.t.Helper()
	resp := h.must(logical.ReadOperation, "metadata/"+key, "")
	if resp == nil {
		h.t.Fatalf("metadata/%s: got nil, want metadata", key)
	}
	var out []int
	for s := range resp.Data["versions"].(map[string]any) {
		n, err := strconv.Atoi(s)
		if err != nil {
			h.t.Fatalf("version name %q is not a number", s)
		}
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

func TestV2MaxVersionsPruning(t *testing.T) {
	tests := []struct {
		name        string
		config      string
		meta        string
		writes      int
		wantKept    []int
		wantOldest  int
		wantRecords int
	}{
		{name: "default keeps 10", writes: 12, wantKept: []int{3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, wantOldest: 3, wantRecords: 10},
		{name: "under the limit", writes: 4, wantKept: []int{1, 2, 3, 4}, wantOldest: 0, wantRecords: 4},
		{name: "mount config", config: `{"max_versions":3}`, writes: 5, wantKept: []int{3, 4, 5}, wantOldest: 3, wantRecords: 3},
		{name: "key overrides mount", config: `{"max_versions":3}`, meta: `{"max_versions":2}`, writes: 5, wantKept: []int{4, 5}, wantOldest: 4, wantRecords: 2},
		{name: "key alone", meta: `{"max_versions":1}`, writes: 3, wantKept: []int{3}, wantOldest: 3, wantRecords: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, "2")
			if tt.config != "" {
				h.must(logical.UpdateOperation, "config", tt.config)
			}
			if tt.meta != "" {
				h.must(logical.UpdateOperation, "metadata/k", tt.meta)
			}
			for i := 1; i <= tt.writes; i++ {
				h.must(logical.UpdateOperation, "data/k", fmt.Sprintf(`{"data":{"n":%d}}`, i))
			}
			if got := h.versionNumbers("k"); !slices.Equal(got, tt.wantKept) {
				t.Fatalf("got versions %v, want %v", got, tt.wantKept)
			}
			meta := h.must(logical.ReadOperation, "metadata/k", "")
			if got := meta.Data["oldest_version"]; got != tt.wantOldest {
				t.Fatalf("got oldest_version %v, want %d", got, tt.wantOldest)
			}
			if got := meta.Data["current_version"]; got != tt.writes {
				t.Fatalf("got current_version %v, want %d", got, tt.writes)
			}
			if got := len(h.st.keysUnder("versions/")); got != tt.wantRecords {
				t.Fatalf("got %d stored version records, want %d", got, tt.wantRecords)
			}
			// A pruned version is simply not there; a kept one reads.
			if tt.wantKept[0] > 1 {
				if resp := h.must(logical.ReadOperation, "data/k", `{"version":1}`); resp != nil {
					t.Fatalf("pruned version 1: got %+v, want nil", resp)
				}
			}
			first := tt.wantKept[0]
			resp := h.must(logical.ReadOperation, "data/k", fmt.Sprintf(`{"version":%d}`, first))
			if diff := cmp.Diff(decode(t, fmt.Sprintf(`{"n":%d}`, first)), roundTrip(t, resp.Data["data"])); diff != "" {
				t.Fatalf("oldest kept version (-want +got):\n%s", diff)
			}
		})
	}
}

func TestV2DeleteVersionAfter(t *testing.T) {
	tests := []struct {
		name   string
		config string
		meta   string
		want   time.Duration
	}{
		{name: "mount", config: `{"delete_version_after":"1h"}`, want: time.Hour},
		{name: "key", meta: `{"delete_version_after":"30m"}`, want: 30 * time.Minute},
		{name: "key in seconds", meta: `{"delete_version_after":90}`, want: 90 * time.Second},
		{name: "shorter of both", config: `{"delete_version_after":"1h"}`, meta: `{"delete_version_after":"2h"}`, want: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, "2")
			if tt.config != "" {
				h.must(logical.UpdateOperation, "config", tt.config)
			}
			if tt.meta != "" {
				h.must(logical.UpdateOperation, "metadata/k", tt.meta)
			}
			resp := h.must(logical.UpdateOperation, "data/k", `{"data":{"a":"b"}}`)
			deadline := epoch.Add(tt.want)
			if got, want := resp.Data["deletion_time"], ts(deadline); got != want {
				t.Fatalf("got deletion_time %v, want %s", got, want)
			}
			// Still readable just before its deletion time, gone at it.
			h.clock.Advance(tt.want - time.Nanosecond)
			h.wantData("data/k", "", `{"data":{"a":"b"},"metadata":`+versionMeta(epoch, deadline, false, 1)+`}`)
			h.clock.Advance(time.Nanosecond)
			h.wantGone("data/k", "", `{"data":null,"metadata":`+versionMeta(epoch, deadline, false, 1)+`}`)
			// Undelete clears the scheduled deletion.
			h.must(logical.UpdateOperation, "undelete/k", `{"versions":[1]}`)
			h.wantData("data/k", "", `{"data":{"a":"b"},"metadata":`+versionMeta(epoch, time.Time{}, false, 1)+`}`)
		})
	}
}

func TestV2Subkeys(t *testing.T) {
	h := newHarness(t, "2")
	h.must(logical.UpdateOperation, "data/k", `{"data":{"a":1,"b":{"c":"x","d":{"e":true}},"f":[1,2]}}`)
	tests := []struct {
		name   string
		params string
		want   string
	}{
		{name: "all levels", params: "", want: `{"a":null,"b":{"c":null,"d":{"e":null}},"f":null}`},
		{name: "depth 1", params: `{"depth":"1"}`, want: `{"a":null,"b":null,"f":null}`},
		{name: "depth 2", params: `{"depth":2}`, want: `{"a":null,"b":{"c":null,"d":null},"f":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.wantData("subkeys/k", tt.params, `{"subkeys":`+tt.want+`,"metadata":`+versionMeta(epoch, time.Time{}, false, 1)+`}`)
		})
	}
	h.must(logical.DeleteOperation, "data/k", "")
	h.wantGone("subkeys/k", "", `{"subkeys":null,"metadata":`+versionMeta(epoch, epoch, false, 1)+`}`)
	h.wantNil(logical.ReadOperation, "subkeys/none")
}

// A write that pushes the oldest version out is still one storage step
// (one fsync on bbolt): the new version, the pruning and the metadata go
// together, so a crash cannot leave metadata naming a version that is
// gone, and a busy key costs no more to write than a new one.
func TestV2PruningWriteIsOneStep(t *testing.T) {
	mem := newMemBackend()
	st := storagetest.NewRecorder(mem)
	eng, err := kv.Factory(context.Background(), logical.MountConfig{Options: map[string]string{"version": "2"}, Storage: st, Now: clocktest.New().Now})
	if err != nil {
		t.Fatal(err)
	}
	write := func(i int) {
		t.Helper()
		req := &logical.Request{Operation: logical.UpdateOperation, Path: "data/k", Data: map[string]any{"data": map[string]any{"n": i}}, Storage: st, MountPoint: "secret/"}
		if _, err := eng.HandleRequest(context.Background(), req); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	for i := 1; i <= 10; i++ {
		write(i)
	}
	for i := 11; i <= 13; i++ {
		st.ResetSteps()
		write(i)
		if n := st.Steps(); n != 1 {
			t.Fatalf("write %d took %d storage steps, want 1", i, n)
		}
	}
	if got := len(mem.keysUnder("versions/")); got != 10 {
		t.Fatalf("got %d stored versions after pruning, want 10", got)
	}
}
