package e2e

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/openbao/openbao/api/v2"

	"github.com/arca-secrets/arca/internal/vaultindex"
)

// An agent may reach any node of a cluster: a subscription made through
// a standby hears of the writes the active node makes.
func TestClusterEventsThroughAStandby(t *testing.T) {
	tc := newTestCluster(t, 3)
	root := tc.init.RootToken
	active := tc.active(30e9)
	var standby *clusterNode
	for _, n := range tc.nodes {
		if n != active {
			standby = n
			break
		}
	}
	if err := newClient(t, active.addr, root).Sys().Mount("secret", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	es, code := subscribe(t, standby.addr, root, "kv*", nil)
	if es == nil {
		t.Fatalf("subscribing through the standby: %d", code)
	}
	code, hdr, body := rawDo(t, active.addr, root, http.MethodPut, "/v1/secret/data/app", `{"data":{"v":"1"}}`, nil)
	if code/100 != 2 {
		t.Fatalf("write: %d %s", code, body)
	}
	ev := es.next()
	if got := ev.Data.Event.Metadata["path"]; got != "secret/data/app" {
		t.Fatalf("event for %q, want secret/data/app", got)
	}
	// The event names a state that holds the write, as X-Vault-Index: a
	// reader that sends it back reads the write on any node.
	wrote, ok1 := vaultindex.Parse(hdr.Values("X-Vault-Index"))
	announced, ok2 := vaultindex.Parse([]string{ev.Data.Event.Metadata["index"]})
	if !ok1 || !ok2 || announced < wrote {
		t.Fatalf("the event's index %q (%d, %v) is not at least the write's %d (%v)", ev.Data.Event.Metadata["index"], announced, ok2, wrote, ok1)
	}
	code, _, body = rawDo(t, standby.addr, root, http.MethodGet, "/v1/secret/data/app", "", map[string]string{"X-Vault-Index": ev.Data.Event.Metadata["index"]})
	if code != http.StatusOK || !strings.Contains(body, `"v":"1"`) {
		t.Fatalf("read through the standby with the event's index: %d %s", code, body)
	}
}

// A node that stops being active (step-down, failover) publishes no
// more events: it ends its subscriptions at once, so that subscribers
// subscribe again, reaching the new active node, and re-read what they
// hold.
func TestClusterEventsEndWhenTheActiveNodeStepsDown(t *testing.T) {
	tc := newTestCluster(t, 3)
	root := tc.init.RootToken
	first := tc.active(30e9)
	if err := newClient(t, first.addr, root).Sys().Mount("secret", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	es, code := subscribe(t, first.addr, root, "kv*", nil)
	if es == nil {
		t.Fatalf("subscribing: %d", code)
	}
	if code, _, body := rawDo(t, first.addr, root, http.MethodPut, "/v1/sys/step-down", "", nil); code/100 != 2 {
		t.Fatalf("step-down: %d %s", code, body)
	}
	if got := es.closeStatus(); got != websocket.StatusTryAgainLater {
		t.Fatalf("the subscription on the node that stepped down ended with %v, want %v", got, websocket.StatusTryAgainLater)
	}
	// Subscribed again through the same node, now a standby: forwarded to
	// the new active node, which announces its writes.
	es, code = subscribe(t, first.addr, root, "kv*", nil)
	if es == nil {
		t.Fatalf("subscribing again: %d", code)
	}
	if code, _, body := rawDo(t, first.addr, root, http.MethodPut, "/v1/secret/data/app", `{"data":{"v":"2"}}`, nil); code/100 != 2 {
		t.Fatalf("write after the step-down: %d %s", code, body)
	}
	if got := es.next().Data.Event.Metadata["path"]; got != "secret/data/app" {
		t.Fatalf("event for %q, want secret/data/app", got)
	}
}

// An agent subscribed to the active node keeps hearing of changes after
// that node steps down: its subscription ends, it subscribes again
// through the same node (now forwarding to the new active one), and a
// write re-renders its file at once (it polls only hourly).
func TestClusterAgentHearsChangesAfterAStepDown(t *testing.T) {
	requireRoot(t)
	tc := newTestCluster(t, 3)
	first := tc.active(30e9)
	rc := newClient(t, first.addr, tc.init.RootToken)
	if err := rc.Sys().Mount("secret", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	f := prepareAgent(t, first.p, rc)
	if err := rc.Sys().PutPolicy("agent", agentEventsPolicy); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(f.dir, "app.conf")
	g := listenerlessAgent(t, f, hostAgentRole(t, rc), "a", dest)
	g.waitFile(t, dest, "password = s3cret-for-app\n")
	if code, _, body := rawDo(t, first.addr, tc.init.RootToken, http.MethodPut, "/v1/sys/step-down", "", nil); code/100 != 2 {
		t.Fatalf("step-down: %d %s", code, body)
	}
	g.waitLog(t, "subscribed to change events", 2)
	f.putApp(t, map[string]any{"password": "after-the-step-down"})
	g.waitFile(t, dest, "password = after-the-step-down\n")
}
