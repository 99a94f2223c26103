package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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

// The ceiling is a process of its own that answers the kv-read paths with a
// body as large as a real KV v2 read, the "ceiling" workload measures it
// without errors, and it stops cleanly on SIGTERM (as the comparison script
// stops it).
func TestCLIBenchCeiling(t *testing.T) {
	addr := freeAddr(t)
	cmd := exec.Command(arcaBin, "bench", "-ceiling="+addr)
	var out bytes.Buffer
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	var ceilingBody string
	if !eventually(10*time.Second, func() bool {
		code, body := rawRequestErr(addr, "/v1/arca-bench-kv/data/k7")
		ceilingBody = body
		return code == 200
	}) {
		t.Fatalf("ceiling did not answer on %s", addr)
	}

	// A real KV v2 read of the 100-byte value the kv workloads write.
	p, root := startDev(t, "root")
	if _, err := root.Logical().Write("secret/data/k7", map[string]any{"data": map[string]any{"value": strings.Repeat("v", 100)}}); err != nil {
		t.Fatal(err)
	}
	_, kvBody := rawRequest(t, p.addr, "root", "GET", "/v1/secret/data/k7", nil)
	if d := len(ceilingBody) - len(kvBody); d < -len(kvBody)/5 || d > len(kvBody)/5 {
		t.Errorf("ceiling answers %d bytes, a KV read %d: more than 20%% apart", len(ceilingBody), len(kvBody))
	}

	r := arca(t, nil, "", "bench", "-addr=http://"+addr, "-token=x", "-duration=1s", "-concurrency=4",
		"-workload=ceiling", "-format=json", "-quiet")
	r.must(t, 0)
	var results []struct {
		Workload string         `json:"workload"`
		Ops      int            `json:"ops"`
		Errors   map[string]int `json:"errors"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &results); err != nil || len(results) != 1 || results[0].Ops == 0 || len(results[0].Errors) != 0 {
		t.Fatalf("ceiling: %v %s", err, r.stdout)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("ceiling exited with %v on SIGTERM:\n%s", err, out.String())
	}
	// The same address given twice fails instead of serving nothing.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	arca(t, nil, "", "bench", "-ceiling="+addr).must(t, 1, "address already in use")
}

// rawRequestErr is a GET that reports failure to connect as code 0.
func rawRequestErr(addr, path string) (int, string) {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// -kv-keys sets how many keys the kv workloads write before they are
// measured: every secret request the server saw is either one of those
// writes or one of the reads the run reports.
func TestCLIBenchKVKeys(t *testing.T) {
	p, _ := startDev(t, "root")
	r := arca(t, nil, "", "bench", "-addr=http://"+p.addr, "-token=root", "-duration=1s", "-concurrency=2",
		"-workload=kv-read", "-kv-keys=7", "-format=json", "-quiet")
	r.must(t, 0)
	var results []struct {
		Ops    int            `json:"ops"`
		Errors map[string]int `json:"errors"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &results); err != nil || len(results) != 1 || results[0].Ops == 0 || len(results[0].Errors) != 0 {
		t.Fatalf("kv-read: %v %s", err, r.stdout)
	}
	code, body := rawRequest(t, p.addr, "root", "GET", "/v1/sys/metrics?format=prometheus", nil)
	m := regexp.MustCompile(`(?m)^arca_http_requests_total\{class="secret",status="200"\} (\d+)$`).FindStringSubmatch(body)
	if code != 200 || m == nil {
		t.Fatalf("sys/metrics: %d\n%s", code, body)
	}
	// Reads cut by the end of the run are answered but not counted.
	if seen, _ := strconv.Atoi(m[1]); seen-results[0].Ops < 7 || seen-results[0].Ops > 7+2 {
		t.Errorf("the server answered %d secret requests for %d reads: the seed was not 7 writes", seen, results[0].Ops)
	}
	arca(t, nil, "", "bench", "-addr=http://"+p.addr, "-token=root", "-kv-keys=0").must(t, 2, "-kv-keys")
}
