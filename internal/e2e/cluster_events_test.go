package e2e

import (
	"net/http"
	"testing"

	"github.com/coder/websocket"
	"github.com/openbao/openbao/api/v2"
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
	if code, _, body := rawDo(t, active.addr, root, http.MethodPut, "/v1/secret/data/app", `{"data":{"v":"1"}}`, nil); code/100 != 2 {
		t.Fatalf("write: %d %s", code, body)
	}
	ev := es.next()
	if got := ev.Data.Event.Metadata["path"]; got != "secret/data/app" {
		t.Fatalf("event for %q, want secret/data/app", got)
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
