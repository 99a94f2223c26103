package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/arca-secrets/arca/internal/pgtest"
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

// The database-creds workload creates real PostgreSQL users under leases
// and drops every one of them when it cleans up.
func TestCLIBenchDatabaseCreds(t *testing.T) {
	pg := pgtest.Start(t)
	admin, pw := pg.NewSuperuser(t)
	p, _ := startDev(t, "root")
	r := arca(t, nil, "", "bench", "-addr=http://"+p.addr, "-token=root", "-duration=1s", "-concurrency=4",
		"-workload=database-creds", "-format=json", "-quiet", "-postgres-url="+pg.URLFor(admin, pw))
	r.must(t, 0)
	var results []struct {
		Workload string         `json:"workload"`
		Ops      int            `json:"ops"`
		Errors   map[string]int `json:"errors"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &results); err != nil || len(results) != 1 || results[0].Ops == 0 || len(results[0].Errors) != 0 {
		t.Fatalf("database-creds: %v %s", err, r.stdout)
	}
	var left int
	if err := pg.Connect(t).QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'v-root-bench-%'").Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d bench users left after cleanup (%v)\n%s", left, err, p.output())
	}
	t.Logf("database-creds: %d users created and dropped in 1s", results[0].Ops)
	arca(t, nil, "", "bench", "-addr=http://"+p.addr, "-token=root", "-workload=database-creds").must(t, 1, "-postgres-url")
}
