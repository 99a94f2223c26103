package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"
)

// hostAgentRole creates the AppRole role host-agent (policy "agent") and
// gives its role ID.
func hostAgentRole(t *testing.T, root *api.Client) string {
	t.Helper()
	if err := root.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("auth/approle/role/host-agent", map[string]any{"token_policies": "agent", "token_ttl": "1h"}); err != nil {
		t.Fatal(err)
	}
	rid, err := root.Logical().Read("auth/approle/role/host-agent/role-id")
	if err != nil {
		t.Fatal(err)
	}
	return rid.Data["role_id"].(string)
}

// listenerlessAgent starts an agent with no listener, in f.dir/name, that
// logs in with a new secret ID of host-agent and renders
// secret/data/app's password into dest (polling only hourly, so that a
// new file comes from a change event); env is added to its environment.
// It returns once the agent has subscribed to the server's events.
func listenerlessAgent(t *testing.T, f *agentFixture, roleID, name, dest string, env ...string) *agentFixture {
	t.Helper()
	g := &agentFixture{t: t, root: f.root, server: f.server, dir: filepath.Join(f.dir, name), env: env}
	g.sock, g.conf = filepath.Join(g.dir, "agent.sock"), filepath.Join(g.dir, "agent.hcl")
	sid, err := f.root.Logical().Write("auth/approle/role/host-agent/secret-id", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(g.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for file, v := range map[string]string{"role_id": roleID, "secret_id": sid.Data["secret_id"].(string)} {
		if err := os.WriteFile(filepath.Join(g.dir, file), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`arca { address = "%s" }
auto_auth { method "approle" { config = { role_id_file_path = "%s/role_id"  secret_id_file_path = "%s/secret_id" } } }
template_config { static_secret_render_interval = "1h" }
template {
  contents    = "password = {{ with secret \"secret/data/app\" }}{{ .Data.data.password }}{{ end }}\n"
  destination = %q
}
`, f.root.Address(), g.dir, g.dir, dest)
	if err := os.WriteFile(g.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	g.startNoListener()
	return g
}

// An agent without a listener runs on one processor, unless GOMAXPROCS
// in its environment says otherwise: the runtime's own scheduler trace
// (GODEBUG=schedtrace) shows how many it runs on once it has subscribed.
func TestAgentWithoutListenerRunsOnOneProcessor(t *testing.T) {
	requireRoot(t)
	p, root := startDev(t, "root")
	f := prepareAgent(t, p, root)
	if err := root.Sys().PutPolicy("agent", agentEventsPolicy); err != nil {
		t.Fatal(err)
	}
	roleID := hostAgentRole(t, root)
	for i, c := range []struct {
		env  []string
		want string
	}{
		{nil, "gomaxprocs=1 "},
		{[]string{"GOMAXPROCS=2"}, "gomaxprocs=2 "},
	} {
		g := listenerlessAgent(t, f, roleID, fmt.Sprint(i), filepath.Join(f.dir, fmt.Sprintf("app%d.conf", i)), append(c.env, "GODEBUG=schedtrace=20")...)
		// The lines printed after the agent said it subscribed.
		agentEventually(t, 20*time.Second, func() (bool, string) {
			out := g.output()
			_, after, _ := strings.Cut(out, "subscribed to change events")
			var last string
			for _, line := range strings.Split(after, "\n") {
				if strings.HasPrefix(line, "SCHED ") {
					last = line
				}
			}
			return strings.Contains(last, c.want), fmt.Sprintf("environment %q: the scheduler's last trace line is %q, want %q", c.env, last, c.want)
		})
	}
}
