package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openbao/openbao/api/v2"
)

// agentEventsPolicy lets the agent log workloads in, read secret/data/app
// (its template's secret) and subscribe to change events.
const agentEventsPolicy = `path "auth/workload/login" { capabilities = ["update"] }
path "secret/data/app" { capabilities = ["read"] }
path "sys/events/subscribe/*" { capabilities = ["read"] }`

// The agent hears of a change at once (its template's static interval is
// an hour, so no poll explains the new file), and after the server was
// killed and restarted it reads again what it renders, so a change made
// while it could not subscribe is not missed.
func TestAgentEventsSurviveAServerRestart(t *testing.T) {
	requireRoot(t)
	addr := freeAddr(t)
	conf := writeConfig(t, addr, `storage "bolt" { path = "`+filepath.Join(t.TempDir(), "arca.db")+`" }`, "disable_mlock = true")
	p := startArca(t, addr, "-config="+conf)
	root := newClient(t, addr, "")
	init := initAndUnseal(t, root)
	if err := root.Sys().Mount("secret", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	f := prepareAgent(t, p, root)
	if err := root.Sys().PutPolicy("agent", agentEventsPolicy); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(f.dir, "app.conf")
	f.writeAppRoleConfig(fmt.Sprintf(`
template_config { static_secret_render_interval = "1h" }
template {
  contents    = "password = {{ with secret \"secret/data/app\" }}{{ .Data.data.password }}{{ end }}\n"
  destination = %q
}`, dest))
	f.start()
	f.waitFile(t, dest, "password = s3cret-for-app\n")
	f.waitLog(t, "subscribed to change events", 1)

	f.putApp(t, map[string]any{"password": "by-event"})
	f.waitFile(t, dest, "password = by-event\n")

	// The agent may not subscribe for a while: the change made then
	// reaches it by no event.
	if err := root.Sys().PutPolicy("agent", strings.Replace(agentEventsPolicy, `path "sys/events/subscribe/*" { capabilities = ["read"] }`, "", 1)); err != nil {
		t.Fatal(err)
	}
	p.kill()
	f.waitLog(t, "change events: not subscribed; reconnecting", 1)
	p = startArca(t, addr, "-config="+conf)
	unseal(t, root, init.Keys[0])
	f.waitLog(t, "the server refused the subscription", 1)
	f.putApp(t, map[string]any{"password": "while-unsubscribed"})
	resyncs := strings.Count(f.output(), "reading cached and rendered secrets again")
	if err := root.Sys().PutPolicy("agent", agentEventsPolicy); err != nil {
		t.Fatal(err)
	}
	// Subscribed again, it reads what it renders: the change is there.
	f.waitLog(t, "reading cached and rendered secrets again", resyncs+1)
	f.waitFile(t, dest, "password = while-unsubscribed\n")
	// And events flow again.
	f.putApp(t, map[string]any{"password": "after-restart"})
	f.waitFile(t, dest, "password = after-restart\n")
	if out := f.output(); strings.Contains(out, "after-restart") || strings.Contains(out, "while-unsubscribed") {
		t.Errorf("the agent logged a secret:\n%s", out)
	}
}
