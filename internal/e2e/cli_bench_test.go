package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCLIBench runs a short mixed load with arca bench and checks the
// figures' shape, that operations succeeded, and that the run cleaned up.
func TestCLIBench(t *testing.T) {
	p, root := startDev(t, "root")
	r := arca(t, nil, "", "bench", "-addr=http://"+p.addr, "-token=root", "-duration=1s", "-concurrency=4",
		"-workload=kv-read:3,kv-write:1,token-create,transit-decrypt,approle-login", "-format=json", "-quiet")
	r.must(t, 0)
	var results []struct {
		Workload  string         `json:"workload"`
		Ops       int            `json:"ops"`
		OpsPerSec float64        `json:"ops_per_sec"`
		P50       float64        `json:"p50_ms"`
		P99       float64        `json:"p99_ms"`
		Max       float64        `json:"max_ms"`
		Errors    map[string]int `json:"errors"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &results); err != nil || len(results) != 5 {
		t.Fatalf("bench json: %v\n%s", err, r.stdout)
	}
	for _, res := range results {
		if res.Ops == 0 || res.OpsPerSec <= 0 || res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 || len(res.Errors) != 0 {
			t.Errorf("%s: %+v", res.Workload, res)
		}
	}
	mounts, err := root.Sys().ListMounts()
	if err != nil {
		t.Fatal(err)
	}
	auths, err := root.Sys().ListAuth()
	if err != nil {
		t.Fatal(err)
	}
	for path := range mounts {
		if strings.HasPrefix(path, "arca-bench") {
			t.Errorf("mount %s left behind", path)
		}
	}
	for path := range auths {
		if strings.HasPrefix(path, "arca-bench") {
			t.Errorf("auth mount %s left behind", path)
		}
	}
	arca(t, nil, "", "bench", "-addr=http://"+p.addr, "-token=root", "-workload=nope").must(t, 1, "unknown workload")
	arca(t, nil, "", "bench", "-workload=kv-read").must(t, 2, "-addr")
}
