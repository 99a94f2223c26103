package e2e

import (
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"

	"github.com/arca-secrets/arca/internal/certtest"
)

// TestClusterStepDown: sys/step-down needs sudo (refused without, on
// the active node and through a standby, and nothing changes); with it,
// through a standby (forwarded) or on the active node, the active node
// hands the lead to another node, which becomes active, and writes go on
// through every node.
func TestClusterStepDown(t *testing.T) {
	tc := newTestCluster(t, 3)
	root := tc.init.RootToken
	first := tc.active(30 * time.Second)
	rc := newClient(t, first.addr, root)
	if err := rc.Sys().Mount("secret", &api.MountInput{Type: "kv-v2"}); err != nil {
		t.Fatal(err)
	}
	if err := rc.Sys().PutPolicy("no-sudo", `path "sys/step-down" { capabilities = ["create", "update"] }`); err != nil {
		t.Fatal(err)
	}
	weak, err := rc.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"no-sudo"}})
	if err != nil {
		t.Fatal(err)
	}
	standby := tc.nodes[0]
	if standby == first {
		standby = tc.nodes[1]
	}
	for _, n := range []*clusterNode{first, standby} {
		for _, tok := range []string{weak.Auth.ClientToken, ""} {
			if code, _, body := rawDo(t, n.addr, tok, http.MethodPut, "/v1/sys/step-down", "", nil); code != 403 {
				t.Fatalf("step-down through %s with token %q: %d %s; want 403", n.id, tok, code, body)
			}
		}
	}
	if l, err := leaderOf(first); err != nil || !l.IsSelf {
		t.Fatalf("refused step-downs moved the lead: %+v, %v", l, err)
	}

	// Through a standby, by the CLI: forwarded to the active node.
	env := []string{"ARCA_ADDR=http://" + standby.addr, "ARCA_TOKEN=" + root}
	// Writes go on through a standby while the lead moves.
	stop, done := make(chan struct{}), make(chan map[int]int)
	go func() {
		codes := map[int]int{}
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- codes
				return
			default:
			}
			code, _, _ := rawDo(t, standby.addr, root, http.MethodPut, "/v1/secret/data/during", `{"data":{"i":"`+strconv.Itoa(i)+`"}}`, nil)
			codes[code]++
		}
	}()
	start := time.Now()
	arca(t, env, "", "operator", "step-down").must(t, 0, "Stepped down")
	second := tc.waitNewActive(first)
	took := time.Since(start)
	close(stop)
	codes := <-done
	t.Logf("step-down through a standby: %s active after %v; writes meanwhile by status: %v", second.id, took, codes)
	// While no node is active, a write is refused as unavailable (the
	// clients' retry covers it), never failed as an internal error.
	for code := range codes {
		if code != 200 && code != 503 {
			t.Fatalf("writes during the step-down answered %d (%v); want 200 or 503\n%s\n%s\n%s", code, codes, tc.nodes[0].p.output(), tc.nodes[1].p.output(), tc.nodes[2].p.output())
		}
	}
	// On the active node itself, by the API.
	if code, _, body := rawDo(t, second.addr, root, http.MethodPut, "/v1/sys/step-down", "", nil); code != 204 {
		t.Fatalf("step-down on the active node: %d %s", code, body)
	}
	tc.waitNewActive(second)
	for i, n := range tc.nodes {
		c := newClient(t, n.addr, root)
		if !eventually(30*time.Second, func() bool {
			_, err := c.KVv2("secret").Put(t.Context(), "after", map[string]any{"n": i})
			return err == nil
		}) {
			t.Fatalf("a write through %s after the step-downs failed", n.id)
		}
	}
}

// waitNewActive waits until a node other than old is active and old
// says it is not.
func (tc *testCluster) waitNewActive(old *clusterNode) *clusterNode {
	tc.t.Helper()
	var now *clusterNode
	if !eventually(30*time.Second, func() bool {
		l, err := leaderOf(old)
		if err != nil || l.IsSelf {
			return false
		}
		for _, n := range tc.nodes {
			if n == old {
				continue
			}
			if l, err := leaderOf(n); err == nil && l.IsSelf {
				now = n
				return true
			}
		}
		return false
	}) {
		tc.t.Fatalf("%s stayed active, or no other node became active:\n%s", old.id, old.p.output())
	}
	return now
}

// TestClusterCertLoginThroughStandby: a cert login sent to a standby's
// TLS listener is forwarded with the client's certificate to the active
// node; the token it returns works on every node. A certificate of
// another CA is refused the same way, and a client that only claims a
// certificate in the forwarding header (to a standby, or to the active
// node's API) gets no login.
func TestClusterCertLoginThroughStandby(t *testing.T) {
	serverCert, serverKey := writeSelfSigned(t)
	nodes := make([]*clusterNode, 3)
	for i := range nodes {
		nodes[i] = &clusterNode{clusterAddr: freeAddr(t), tlsAddr: freeAddr(t), tlsCert: serverCert, tlsKey: serverKey}
	}
	tc := newTestClusterWith(t, arcaBin, nodes)
	root := tc.init.RootToken
	act := tc.active(30 * time.Second)
	rc := newClient(t, act.addr, root)
	ca, other := certtest.NewCA(t, "apps CA"), certtest.NewCA(t, "other CA")
	if err := rc.Sys().Mount("secret", &api.MountInput{Type: "kv-v2"}); err != nil {
		t.Fatal(err)
	}
	if err := rc.Sys().PutPolicy("app", `path "secret/data/app" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	if err := rc.Sys().EnableAuthWithOptions("cert", &api.EnableAuthOptions{Type: "cert"}); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Logical().Write("auth/cert/certs/apps", map[string]any{"certificate": ca.PEM, "token_policies": "app", "token_ttl": "10m"}); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.KVv2("secret").Put(t.Context(), "app", map[string]any{"password": "via-cert"}); err != nil {
		t.Fatal(err)
	}
	var standby *clusterNode
	for _, n := range tc.nodes {
		if n != act {
			standby = n
		}
	}
	crt, key := issueFiles(t, ca, "web-1")
	c := certClient(t, standby.tlsAddr, serverCert, crt, key)
	login, err := c.Logical().Write("auth/cert/login", nil)
	if err != nil {
		t.Fatalf("cert login through standby %s: %v\n%s", standby.id, err, standby.p.output())
	}
	if !slices.Contains(login.Auth.Policies, "app") || login.Auth.Metadata["common_name"] != "web-1" {
		t.Fatalf("login through a standby: %+v", login.Auth)
	}
	for _, n := range tc.nodes {
		nc := newClient(t, n.addr, login.Auth.ClientToken)
		if !eventually(10*time.Second, func() bool {
			s, err := nc.KVv2("secret").Get(t.Context(), "app")
			return err == nil && s.Data["password"] == "via-cert"
		}) {
			t.Fatalf("the cert login's token does not read on %s", n.id)
		}
		if _, err := nc.Auth().Token().LookupSelf(); err != nil {
			t.Fatalf("lookup-self on %s: %v", n.id, err)
		}
	}

	oc, ok := issueFiles(t, other, "web-1")
	if _, err := certClient(t, standby.tlsAddr, serverCert, oc, ok).Logical().Write("auth/cert/login", nil); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("another CA's certificate through a standby: %v; want 403", err)
	}
	// The header a standby forwards the certificate in is its own: sent
	// by a client, it proves nothing.
	raw, err := os.ReadFile(crt)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(raw)
	forged := map[string]string{"X-Arca-Forwarded-Client-Cert": base64.StdEncoding.EncodeToString(b.Bytes)}
	for _, n := range []*clusterNode{standby, act} {
		code, _, body := rawDo(t, n.addr, "", http.MethodPost, "/v1/auth/cert/login", "", forged)
		if code != 400 || !strings.Contains(body, "no client certificate") {
			t.Fatalf("a forged forwarding header to %s: %d %s; want 400, no client certificate", n.id, code, body)
		}
	}
}
