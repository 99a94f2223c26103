package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"
)

// TestClusterQuorum: a five-node cluster that loses two nodes keeps
// taking writes; losing a third, it stops with a clear 503 (never a
// silent hang or a lost acknowledged write); when the nodes return it
// takes writes again and holds every acknowledged one.
func TestClusterQuorum(t *testing.T) {
	tc := newTestCluster(t, 5)
	root := tc.init.RootToken
	c := newClient(t, tc.nodes[0].addr, root)
	if err := c.Sys().Mount("secret", &api.MountInput{Type: "kv"}); err != nil {
		t.Fatal(err)
	}
	write := func(n *clusterNode, key string) (int, string) {
		code, _, body := rawDo(t, n.addr, root, http.MethodPut, "/v1/secret/"+key, `{"v":"`+key+`"}`, nil)
		return code, body
	}
	// Kill two standbys, then the active node would make three: first
	// two standbys.
	active := tc.active(30 * time.Second)
	var down []*clusterNode
	for _, n := range tc.nodes {
		if n != active && len(down) < 2 {
			down = append(down, n)
		}
	}
	for _, n := range down {
		n.p.kill()
	}
	var up []*clusterNode
	for _, n := range tc.nodes {
		if n.p != nil && !n.p.exited() {
			up = append(up, n)
		}
	}
	for i, n := range up {
		if code, body := write(n, "two-down-"+n.id); code/100 != 2 {
			t.Fatalf("write %d through %s with two of five down: %d %s", i, n.id, code, body)
		}
	}
	// A third goes: no quorum. Writes fail with 503 and say why.
	third := up[0]
	if third == active {
		third = up[1]
	}
	third.p.kill()
	var code int
	var body string
	if !eventually(60*time.Second, func() bool {
		code, body = write(active, "no-quorum")
		return code == http.StatusServiceUnavailable
	}) {
		t.Fatalf("a write without quorum answered %d %s, want 503", code, body)
	}
	if !strings.Contains(body, "active node") && !strings.Contains(body, "leader") && !strings.Contains(body, "quorum") {
		t.Fatalf("the 503 without quorum does not say why: %s", body)
	}
	// They come back; writes resume; everything acknowledged is there.
	for _, n := range append(down, third) {
		n.p = startArca(t, n.addr, "-config="+n.conf)
		n.c = newClient(t, n.addr, "")
		unseal(t, n.c, tc.init.Keys[0])
	}
	var last string
	now := tc.active(60 * time.Second)
	if !eventually(60*time.Second, func() bool {
		code, body = write(now, "back")
		return code/100 == 2
	}) {
		t.Fatalf("writes did not resume once the nodes returned: %d %s", code, body)
	}
	_, hdr, _ := rawDo(t, now.addr, root, http.MethodGet, "/v1/secret/back", "", nil)
	last = hdr.Get("X-Vault-Index")
	// A restarted node takes part once unsealed (it is sent nothing
	// before): each answers once it has heard from the leader.
	for _, n := range tc.nodes {
		for _, m := range up {
			key := "two-down-" + m.id
			if !eventually(30*time.Second, func() bool {
				code, _, body = rawDo(t, n.addr, root, http.MethodGet, "/v1/secret/"+key, "", map[string]string{"X-Vault-Index": last})
				return code == http.StatusOK && strings.Contains(body, key)
			}) {
				t.Fatalf("%s: %s after the outage: %d %s\n%s", n.id, key, code, body, n.p.output())
			}
		}
	}
}
