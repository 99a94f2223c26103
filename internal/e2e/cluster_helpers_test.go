package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"
)

// A cluster of real arca processes on loopback, formed as a user forms
// one: the first node is initialised, the others join it through
// retry_join and are unsealed with the same keys.

type clusterNode struct {
	id, addr, clusterAddr, dir, conf string
	// bindAddr, when set, is where the cluster port listens while others
	// reach it at clusterAddr (a proxy in front of it).
	bindAddr string
	// tlsAddr, when set, is a second API listener, with TLS (tlsCert,
	// tlsKey): what a client presents a certificate on.
	tlsAddr, tlsCert, tlsKey string
	p                        *proc
	c                        *api.Client
}

type testCluster struct {
	t     *testing.T
	bin   string // the arca binary; arcaBin when empty
	nodes []*clusterNode
	init  *api.InitResponse
}

// clusterConfig writes node i's config: raft storage, a plain-HTTP
// listener, and retry_join blocks naming the given leaders.
func clusterConfig(t *testing.T, n *clusterNode, leaders []string) string {
	t.Helper()
	var joins strings.Builder
	for _, l := range leaders {
		fmt.Fprintf(&joins, "  retry_join {\n    leader_api_addr = %q\n  }\n", "http://"+l)
	}
	bind := ""
	if n.bindAddr != "" {
		bind = fmt.Sprintf("  cluster_address = %q\n", n.bindAddr)
	}
	if n.tlsAddr != "" {
		bind += fmt.Sprintf("}\nlistener \"tcp\" {\n  address = %q\n  tls_cert_file = %q\n  tls_key_file = %q\n", n.tlsAddr, n.tlsCert, n.tlsKey)
	}
	body := fmt.Sprintf("storage \"raft\" {\n  path    = %q\n  node_id = %q\n%s}\nlistener \"tcp\" {\n  address = %q\n  tls_disable = true\n%s}\n"+
		"disable_mlock = true\ncluster_addr = \"https://%s\"\napi_addr = \"http://%s\"\n", n.dir, n.id, joins.String(), n.addr, bind, n.clusterAddr, n.addr)
	path := filepath.Join(t.TempDir(), "arca.hcl")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (tc *testCluster) binary() string {
	if tc.bin != "" {
		return tc.bin
	}
	return arcaBin
}

// newTestCluster starts size nodes and forms a cluster of them.
func newTestCluster(t *testing.T, size int) *testCluster {
	t.Helper()
	return newTestClusterWith(t, arcaBin, make([]*clusterNode, size))
}

// newTestClusterWith forms a cluster of bin's processes; a nil node is
// made with fresh addresses.
func newTestClusterWith(t *testing.T, bin string, nodes []*clusterNode) *testCluster {
	t.Helper()
	tc := &testCluster{t: t, bin: bin}
	for i, n := range nodes {
		if n == nil {
			n = &clusterNode{clusterAddr: freeAddr(t)}
		}
		n.id, n.addr, n.dir = fmt.Sprintf("node-%d", i+1), freeAddr(t), filepath.Join(t.TempDir(), "raft")
		tc.nodes = append(tc.nodes, n)
	}
	size := len(nodes)
	first := tc.nodes[0]
	first.conf = clusterConfig(t, first, nil)
	first.p = startArcaBin(t, tc.binary(), first.addr, "-config="+first.conf)
	first.c = newClient(t, first.addr, "")
	tc.init = initAndUnseal(t, first.c)
	tc.waitActive(first, 30*time.Second)
	for _, n := range tc.nodes[1:] {
		tc.join(n, []string{first.addr})
	}
	tc.waitVoters(size)
	return tc
}

// join starts n with retry_join to leaders and unseals it once it holds
// a challenge.
func (tc *testCluster) join(n *clusterNode, leaders []string) {
	t := tc.t
	t.Helper()
	n.conf = clusterConfig(t, n, leaders)
	n.p = startArcaBin(t, tc.binary(), n.addr, "-config="+n.conf)
	n.c = newClient(t, n.addr, "")
	tc.unsealJoiner(n)
}

func (tc *testCluster) unsealJoiner(n *clusterNode) {
	t := tc.t
	t.Helper()
	var st *api.SealStatusResponse
	if !eventually(30*time.Second, func() bool {
		var err error
		st, err = n.c.Sys().SealStatus()
		return err == nil && st.Initialized
	}) {
		t.Fatalf("%s never got a join challenge: %+v\n%s", n.id, st, n.p.output())
	}
	if _, err := n.c.Sys().Unseal(tc.init.Keys[0]); err != nil {
		t.Fatalf("unsealing joiner %s: %v", n.id, err)
	}
	if !eventually(60*time.Second, func() bool {
		st, err := n.c.Sys().SealStatus()
		return err == nil && !st.Sealed
	}) {
		t.Fatalf("joiner %s did not unseal:\n%s", n.id, n.p.output())
	}
	n.c.SetToken(tc.init.RootToken)
}

// leaderOf is sys/leader as node n sees it.
func leaderOf(n *clusterNode) (*api.LeaderResponse, error) {
	c := newClientQuiet(n.addr)
	return c.Sys().Leader()
}

// newClientQuiet is newClient without a test to fail (for polling).
func newClientQuiet(addr string) *api.Client {
	conf := api.DefaultConfig()
	conf.Address = "http://" + addr
	conf.MaxRetries = 0
	conf.Timeout = 2 * time.Second
	c, _ := api.NewClient(conf)
	c.SetToken("")
	return c
}

// waitActive waits until n says it is the active node.
func (tc *testCluster) waitActive(n *clusterNode, timeout time.Duration) {
	tc.t.Helper()
	var l *api.LeaderResponse
	if !eventually(timeout, func() bool {
		var err error
		l, err = leaderOf(n)
		return err == nil && l.IsSelf
	}) {
		tc.t.Fatalf("%s did not become active: %+v\n%s", n.id, l, n.p.output())
	}
}

// active is the node that says it is active, among the running ones.
func (tc *testCluster) active(timeout time.Duration) *clusterNode {
	tc.t.Helper()
	var found *clusterNode
	if !eventually(timeout, func() bool {
		for _, n := range tc.nodes {
			if n.p == nil || n.p.exited() {
				continue
			}
			if l, err := leaderOf(n); err == nil && l.IsSelf {
				found = n
				return true
			}
		}
		return false
	}) {
		tc.t.Fatal("no node became active")
	}
	return found
}

// waitVoters waits until the cluster has want voters.
func (tc *testCluster) waitVoters(want int) {
	tc.t.Helper()
	var last string
	if !eventually(60*time.Second, func() bool {
		c := newClient(tc.t, tc.nodes[0].addr, tc.init.RootToken)
		s, err := c.Logical().Read("sys/storage/raft/configuration")
		if err != nil || s == nil {
			return false
		}
		raw, _ := json.Marshal(s.Data)
		last = string(raw)
		servers, _ := s.Data["config"].(map[string]any)["servers"].([]any)
		voters := 0
		for _, sv := range servers {
			if sv.(map[string]any)["voter"] == true {
				voters++
			}
		}
		return voters == want
	}) {
		tc.t.Fatalf("the cluster did not reach %d voters: %s", want, last)
	}
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// rawDo sends a request to addr with headers and returns status, the
// response's headers and body.
func rawDo(t *testing.T, addr, token, method, path, body string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// mustNot fails the test if the output holds any of unwanted.
func (r cliResult) mustNot(t *testing.T, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(r.stdout+r.stderr, u) {
			t.Fatalf("output holds %q:\n%s", u, r.stdout+r.stderr)
		}
	}
}

// testPublicKey is a fresh public key as a join answer carries it.
func testPublicKey(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// encodeTestIndex is an X-Vault-Index value for index i, in the shape a
// node sends.
func encodeTestIndex(i uint64) string {
	state := "v1:arca:" + fmt.Sprint(i) + ":0"
	return base64.StdEncoding.EncodeToString([]byte(state + ":00"))
}
