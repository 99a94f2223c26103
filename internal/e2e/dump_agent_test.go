package e2e

import (
	"fmt"
	"os"
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
		for path, v := range map[string]string{"app": value, "probe": "1", "other": randomText("other-")} {
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
		// The probe is cached after the value: once the agent serves the
		// probe's new value, the value's entry is past its kv_ttl too.
		read("probe")
		if _, err := root.Logical().Write("secret/data/probe", map[string]any{"data": map[string]any{"v": "2"}}); err != nil {
			t.Fatal(err)
		}
		if !eventually(10*time.Second, func() bool { return read("probe") == "2" }) {
			t.Fatal("the agent kept serving the probe past its kv_ttl")
		}
		for range 1000 {
			read("other")
		}
		failOnHits(t, fmt.Sprintf("round %d", round), dumpHits(t, f.agent.Process.Pid, rawSecret("value served from the cache", value)))
		_ = f.agent.Process.Kill()
		srv.kill()
	}
}
