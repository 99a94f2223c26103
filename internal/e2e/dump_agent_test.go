package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"
)

// TestCoreDumpAgent: a value the agent served from its cache, once its
// kv_ttl has passed and 1,000 other requests went through the socket, is
// not in a dump of the agent.
func TestCoreDumpAgent(t *testing.T) {
	for round := range dumpRounds(t) {
		srv, root := startDev(t, "root")
		f := prepareAgent(t, srv, root)
		f.cache = `cache { kv_ttl = "1s" }`
		f.writeAppRoleConfig("")
		f.start()
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		if err := root.Sys().PutPolicy("dump", `path "secret/data/*" { capabilities = ["read"] }`); err != nil {
			t.Fatal(err)
		}
		if _, err := root.Logical().Write("auth/workload/role/tests", map[string]any{
			"bound_uids": "0", "bound_exe_paths": self, "token_policies": "dump",
		}); err != nil {
			t.Fatal(err)
		}
		value := randomText("agent-value-")
		for path, v := range map[string]string{"app": value, "probe": "p", "other": randomText("other-")} {
			if _, err := root.Logical().Write("secret/data/"+path, map[string]any{"data": map[string]any{"v": v}}); err != nil {
				t.Fatal(err)
			}
		}
		conf := api.DefaultConfig()
		conf.Address = "unix://" + f.sock
		conf.MaxRetries = 0
		c, err := api.NewClient(conf)
		if err != nil {
			t.Fatal(err)
		}
		c.ClearToken()
		read := func(path string) string {
			t.Helper()
			s, err := c.Logical().Read("secret/data/" + path)
			if err != nil || s == nil {
				t.Fatalf("read %s through the agent: %v\nagent:\n%s", path, err, f.output())
			}
			return fmt.Sprint(s.Data["data"].(map[string]any)["v"])
		}
		if read("app") != value {
			t.Fatal("the agent served another value")
		}
		// The probe is cached after the value: once a read of the probe is
		// a cache miss again (the agent's metrics count misses), the
		// value's entry is past its kv_ttl too. (A write to the probe would
		// not do: its change event drops the entry at once.)
		// Twice, so that the second expiry is past whatever the agent did
		// meanwhile (its event subscription, once it starts, drops all it
		// caches); the read that finds an expiry also sweeps the cache.
		read("probe")
		for range 2 {
			misses := agentCacheMisses(t, f)
			if !eventually(10*time.Second, func() bool { read("probe"); return agentCacheMisses(t, f) > misses }) {
				t.Fatal("the agent kept serving the probe from its cache past its kv_ttl")
			}
		}
		for range 1000 {
			read("other")
		}
		failOnHits(t, fmt.Sprintf("round %d", round), dumpHits(t, f.agent.Process.Pid, rawSecret("value served from the cache", value)))
		_ = f.agent.Process.Kill()
		srv.kill()
	}
}

// agentCacheMisses reads the agent's count of cache misses from its
// metrics (root only, as this test runs).
func agentCacheMisses(t *testing.T, f *agentFixture) int {
	t.Helper()
	code, body := f.get("/agent/v1/metrics")
	if code != 200 {
		t.Fatalf("agent metrics: %d %s", code, body)
	}
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, `arca_agent_cache_reads_total{result="miss"} `); ok {
			n, err := strconv.Atoi(strings.TrimSpace(rest))
			if err != nil {
				t.Fatalf("miss count %q", rest)
			}
			return n
		}
	}
	return 0
}
