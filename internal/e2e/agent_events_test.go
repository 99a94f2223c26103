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

// The exec child's secrets are fetched with its own workload identity
// (the agent's policy cannot read them); it keeps running while the
// server is down, is restarted when its secret rotates, and is stopped,
// with the reason logged, when its role is deleted.
func TestAgentExecChildIdentity(t *testing.T) {
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
	// The agent itself may not read the child's secret, only hear that
	// it changed.
	if err := root.Sys().PutPolicy("agent", `path "auth/workload/login" { capabilities = ["update"] }
path "sys/events/subscribe/*" { capabilities = ["read"] }
path "secret/data/app" { capabilities = ["subscribe"] }
path "auth/workload/role/*" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	uid, gid := testUser(t, "arca-wl-child")
	seen := f.writeExecChildConfig("arca-wl-child", uid, gid, nil, `echo "$$ $APP_PASSWORD" >> SEEN; exec sleep 600`)
	f.start()
	lines := func(n int) [][]string {
		t.Helper()
		var got [][]string
		agentEventually(t, 20*time.Second, func() (bool, string) {
			b, _ := os.ReadFile(seen)
			got = nil
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				got = append(got, strings.Fields(l))
			}
			return len(b) > 0 && len(got) >= n, fmt.Sprintf("the child wrote %q, want %d lines\nagent:\n%s", b, n, f.output())
		})
		return got
	}
	first := lines(1)[0]
	if len(first) != 2 || first[1] != "s3cret-for-app" {
		t.Fatalf("the child saw %q, want its pid and the password its role may read", first)
	}
	f.waitLog(t, "subscribed to change events", 1)

	// The server goes away and comes back: the child runs on.
	p.kill()
	f.waitLog(t, "change events: not subscribed; reconnecting", 1)
	p = startArca(t, addr, "-config="+conf)
	unseal(t, root, init.Keys[0])
	f.waitLog(t, "subscribed to change events", 2)
	f.waitLog(t, "reading cached and rendered secrets again", 2)
	if _, err := os.Stat("/proc/" + first[0]); err != nil {
		t.Fatalf("the child (pid %s) is gone after a server restart: %v\nagent:\n%s", first[0], err, f.output())
	}

	// A rotation restarts it with the new secret.
	f.putApp(t, map[string]any{"password": "rotated"})
	all := lines(2)
	if len(all) != 2 || all[1][1] != "rotated" || all[1][0] == first[0] {
		t.Fatalf("after the rotation the child wrote %q, want one new process with the new password", all)
	}
	// Its role is deleted: the child is stopped and the agent says why.
	f.deleteChildRole()
	if !strings.Contains(f.output(), "the child's workload identity was revoked") || f.agent.ProcessState.ExitCode() == 0 {
		t.Fatalf("the agent exited %d without saying the child was revoked:\n%s", f.agent.ProcessState.ExitCode(), f.output())
	}
	if _, err := os.Stat("/proc/" + all[1][0]); !os.IsNotExist(err) {
		t.Fatalf("the child (pid %s) still runs: %v", all[1][0], err)
	}
	if strings.Contains(f.output(), "rotated") || strings.Contains(f.output(), "s3cret-for-app") {
		t.Errorf("the agent logged a secret:\n%s", f.output())
	}
}
