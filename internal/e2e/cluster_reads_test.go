package e2e

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/openbao/openbao/api/v2"
)

// secretRequests is the active node's count of requests to secrets
// engines (arca_http_requests_total{class="secret"}), from sys/metrics.
func secretRequests(t *testing.T, n *clusterNode, token string) float64 {
	t.Helper()
	code, _, body := rawDo(t, n.addr, token, http.MethodGet, "/v1/sys/metrics?format=prometheus", "", nil)
	if code != http.StatusOK {
		t.Fatalf("sys/metrics on %s: %d %s", n.id, code, body)
	}
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "arca_http_requests_total{") && strings.Contains(line, `class="secret"`) {
			v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			sum += v
		}
	}
	return sum
}

// TestClusterStandbyReads: a standby serves KV reads from its applied
// state (the active node sees none of them); a read with a token that
// has a use count is still counted, by the active node (the standby's
// attempt would write, so it is forwarded); a read carrying an index the
// standby has not applied is refused with 412 under
// X-Vault-Inconsistent: fail, and forwarded otherwise.
func TestClusterStandbyReads(t *testing.T) {
	tc := newTestCluster(t, 3)
	root := tc.init.RootToken
	active := tc.active(30e9)
	var standbys []*clusterNode
	for _, n := range tc.nodes {
		if n != active {
			standbys = append(standbys, n)
		}
	}
	ac := newClient(t, active.addr, root)
	if err := ac.Sys().Mount("secret", &api.MountInput{Type: "kv"}); err != nil {
		t.Fatal(err)
	}
	code, hdr, _ := rawDo(t, active.addr, root, http.MethodPut, "/v1/secret/k", `{"v":"1"}`, nil)
	if code/100 != 2 {
		t.Fatalf("write: %d", code)
	}
	idx := hdr.Get("X-Vault-Index")

	before := secretRequests(t, active, root)
	const reads = 20
	for i := range reads {
		code, _, body := rawDo(t, standbys[i%2].addr, root, http.MethodGet, "/v1/secret/k", "", map[string]string{"X-Vault-Index": idx})
		if code != http.StatusOK || !strings.Contains(body, `"v":"1"`) {
			t.Fatalf("standby read %d: %d %s", i, code, body)
		}
	}
	if after := secretRequests(t, active, root); after-before >= reads {
		t.Fatalf("the active node saw %v of %d standby reads: they were forwarded, not served locally", after-before, reads)
	}

	// A token with three uses: three reads through standbys, then none.
	tok, err := ac.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"root"}, NumUses: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if code, _, body := rawDo(t, standbys[i%2].addr, tok.Auth.ClientToken, http.MethodGet, "/v1/secret/k", "", nil); code != http.StatusOK {
			t.Fatalf("use %d of a 3-use token through a standby: %d %s", i+1, code, body)
		}
	}
	if code, _, body := rawDo(t, standbys[1].addr, tok.Auth.ClientToken, http.MethodGet, "/v1/secret/k", "", nil); code != http.StatusForbidden {
		t.Fatalf("a 4th use of a 3-use token through a standby: %d %s, want 403", code, body)
	}

	// An index no node has reached: refused (412) or forwarded.
	future := encodeTestIndex(1 << 40)
	if code, _, body := rawDo(t, standbys[0].addr, root, http.MethodGet, "/v1/secret/k", "", map[string]string{"X-Vault-Index": future, "X-Vault-Inconsistent": "fail"}); code != http.StatusPreconditionFailed {
		t.Fatalf("a read with an unreached index and fail: %d %s, want 412", code, body)
	}
	if code, _, body := rawDo(t, standbys[0].addr, root, http.MethodGet, "/v1/secret/k", "", map[string]string{"X-Vault-Index": future}); code != http.StatusOK {
		t.Fatalf("a read with an unreached index, forwarded: %d %s, want 200", code, body)
	}
}
