package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"

	"github.com/arca-secrets/arca/storage/raft"
)

// TestClusterJoinForwardAndRead: three nodes form a cluster through
// retry_join (each proving the unseal keys); a write through a standby
// is forwarded and acknowledged with X-Vault-Index; every node serves
// the read; sys/leader, sys/health and list-peers say who is active.
func TestClusterJoinForwardAndRead(t *testing.T) {
	tc := newTestCluster(t, 3)
	root := tc.init.RootToken
	active, standby := tc.nodes[0], tc.nodes[1]

	// The standby forwards a mount (sys/) and a KV write to the active
	// node; the client sees the active node's answers.
	sc := newClient(t, standby.addr, root)
	if err := sc.Sys().Mount("secret", &api.MountInput{Type: "kv", Options: map[string]string{"version": "1"}}); err != nil {
		t.Fatalf("mount through a standby: %v\n%s\n---active---\n%s", err, standby.p.output(), active.p.output())
	}
	code, hdr, body := rawDo(t, standby.addr, root, http.MethodPut, "/v1/secret/app", `{"v":"1"}`, nil)
	if code != http.StatusNoContent && code != http.StatusOK {
		t.Fatalf("write through a standby: %d %s", code, body)
	}
	index := hdr.Get("X-Vault-Index")
	if index == "" {
		t.Fatal("a write's answer carries no X-Vault-Index")
	}
	for _, n := range tc.nodes {
		code, _, body := rawDo(t, n.addr, root, http.MethodGet, "/v1/secret/app", "", map[string]string{"X-Vault-Index": index, "X-Vault-Inconsistent": "fail"})
		if code != http.StatusOK || !strings.Contains(body, `"v":"1"`) {
			t.Fatalf("read with the write's index through %s: %d %s", n.id, code, body)
		}
	}

	// Who is active, as every node tells it.
	for _, n := range tc.nodes {
		l, err := leaderOf(n)
		if err != nil || !l.HAEnabled || l.LeaderAddress != "http://"+active.addr || l.IsSelf != (n == active) {
			t.Fatalf("sys/leader on %s: %+v, %v", n.id, l, err)
		}
	}
	if code, _, _ := rawDo(t, standby.addr, "", http.MethodGet, "/v1/sys/health", "", nil); code != http.StatusTooManyRequests {
		t.Fatalf("sys/health on a standby: %d, want 429", code)
	}
	if code, _, _ := rawDo(t, standby.addr, "", http.MethodGet, "/v1/sys/health?standbyok=true", "", nil); code != http.StatusOK {
		t.Fatalf("sys/health?standbyok=true on a standby: %d, want 200", code)
	}
	if code, _, _ := rawDo(t, active.addr, "", http.MethodGet, "/v1/sys/health", "", nil); code != http.StatusOK {
		t.Fatalf("sys/health on the active node: %d, want 200", code)
	}
	env := []string{"ARCA_ADDR=http://" + standby.addr, "ARCA_TOKEN=" + root}
	arca(t, env, "", "operator", "raft", "list-peers").must(t, 0, "node-1", "node-2", "node-3", "leader")
	arca(t, env, "", "status").must(t, 0, "HA Mode", "standby", "http://"+active.addr)

	// Every node presents a certificate of one cluster CA, kept in the
	// barrier: the same CA signs all three. None is kept on disk.
	var ca []byte
	for _, n := range tc.nodes {
		if _, err := os.Stat(filepath.Join(n.dir, "node-tls.json")); err == nil {
			t.Fatalf("%s keeps its cluster key on disk", n.id)
		}
		leaf := clusterPortCert(t, n.clusterAddr)
		if leaf.Subject.CommonName != n.id {
			t.Fatalf("%s's cluster certificate names %q", n.id, leaf.Subject.CommonName)
		}
		if ca == nil {
			ca = leaf.AuthorityKeyId
		} else if !bytes.Equal(ca, leaf.AuthorityKeyId) {
			t.Fatalf("%s's CA differs from node-1's", n.id)
		}
	}
}

// clusterPortCert is the certificate a node's cluster port presents (the
// handshake then fails: the test has no client certificate to give).
func clusterPortCert(t *testing.T, addr string) *x509.Certificate {
	t.Helper()
	var leaf *x509.Certificate
	conf := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"arca-raft/1"},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) > 0 {
				leaf = cs.PeerCertificates[0]
			}
			return nil
		}}
	if conn, err := tls.Dial("tcp", addr, conf); err == nil {
		conn.Close()
	}
	if leaf == nil || len(leaf.AuthorityKeyId) == 0 {
		t.Fatalf("the cluster port at %s presented no certificate naming its CA", addr)
	}
	return leaf
}

// TestClusterRefusesOutsiders: the cluster port gives nothing to a
// client without a certificate or with another CA's; a node that asked
// to join but was never unsealed holds no certificate and is no member;
// a join answer that does not prove the keys is refused and spends the
// challenge; a removed member hears nothing more.
func TestClusterRefusesOutsiders(t *testing.T) {
	tc := newTestCluster(t, 3)
	root := tc.init.RootToken
	active := tc.nodes[0]

	foreign, err := raft.ClusterTLS("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for name, conf := range map[string]*tls.Config{
		"no certificate":           {InsecureSkipVerify: true, NextProtos: []string{"arca-forward/1"}},
		"another CA's certificate": {InsecureSkipVerify: true, Certificates: foreign.Certificates, NextProtos: []string{"arca-forward/1"}},
	} {
		conn, err := tls.Dial("tcp", active.clusterAddr, conf)
		if err == nil {
			// TLS 1.3: a refused client certificate shows on first read.
			_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			_, _ = conn.Write([]byte("GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n"))
			_, err = conn.Read(make([]byte, 1))
			conn.Close()
		}
		if err == nil {
			t.Errorf("%s: the cluster port answered", name)
		}
	}

	// A fourth node asks to join but is never unsealed: it gets a
	// challenge and nothing else.
	n4 := &clusterNode{id: "node-4", addr: freeAddr(t), clusterAddr: freeAddr(t), dir: filepath.Join(t.TempDir(), "raft")}
	n4.conf = clusterConfig(t, n4, []string{active.addr})
	n4.p = startArca(t, n4.addr, "-config="+n4.conf)
	n4.c = newClient(t, n4.addr, "")
	if !eventually(30*time.Second, func() bool {
		st, err := n4.c.Sys().SealStatus()
		return err == nil && st.Initialized && st.Sealed
	}) {
		t.Fatalf("node-4 got no challenge:\n%s", n4.p.output())
	}
	if got, want := clusterPortCert(t, n4.clusterAddr), clusterPortCert(t, active.clusterAddr); bytes.Equal(got.AuthorityKeyId, want.AuthorityKeyId) {
		t.Fatal("a joiner that was never unsealed holds a cluster certificate")
	}
	arca(t, []string{"ARCA_ADDR=http://" + active.addr, "ARCA_TOKEN=" + root}, "", "operator", "raft", "list-peers").mustNot(t, "node-4")

	// A fifth node, started with no retry_join, joins through the CLI
	// (sys/storage/raft/join) and, unsealed with the keys, is a member.
	n5 := &clusterNode{id: "node-5", addr: freeAddr(t), clusterAddr: freeAddr(t), dir: filepath.Join(t.TempDir(), "raft")}
	n5.conf = clusterConfig(t, n5, nil)
	n5.p = startArca(t, n5.addr, "-config="+n5.conf)
	n5.c = newClient(t, n5.addr, "")
	arca(t, []string{"ARCA_ADDR=http://" + n5.addr}, "", "operator", "raft", "join", "http://"+active.addr).must(t, 0, "Joined: true")
	tc.unsealJoiner(n5)
	tc.nodes = append(tc.nodes, n5)
	tc.waitVoters(4)
	// Joining again, now that it belongs to a cluster, is refused.
	arca(t, []string{"ARCA_ADDR=http://" + n5.addr}, "", "operator", "raft", "join", "http://"+active.addr).must(t, 1, "already has raft state")

	// Answers that prove nothing.
	for _, body := range []string{
		`{"server_id":"evil","answer":"AAAA","cluster_addr":"127.0.0.1:1","public_key":""}`,
	} {
		if code, _, out := rawDo(t, active.addr, "", http.MethodPost, "/v1/sys/storage/raft/bootstrap/answer", body, nil); code != http.StatusBadRequest && code != http.StatusForbidden {
			t.Fatalf("answer without a challenge: %d %s", code, out)
		}
	}
	if code, _, out := rawDo(t, active.addr, "", http.MethodPost, "/v1/sys/storage/raft/bootstrap/challenge", `{"server_id":"evil"}`, nil); code != http.StatusOK {
		t.Fatalf("challenge: %d %s", code, out)
	}
	pub := testPublicKey(t)
	wrong := `{"server_id":"evil","answer":"` + strings.Repeat("A", 44) + `","cluster_addr":"127.0.0.1:1","public_key":"` + pub + `"}`
	for i := range 2 {
		if code, _, out := rawDo(t, active.addr, "", http.MethodPost, "/v1/sys/storage/raft/bootstrap/answer", wrong, nil); code != http.StatusForbidden {
			t.Fatalf("wrong answer #%d: %d %s, want 403", i+1, code, out)
		}
	}
	// Challenges cost a replicated write each and need no token: they
	// are bounded in number and rate.
	refused := 0
	for i := range 70 {
		code, _, _ := rawDo(t, active.addr, "", http.MethodPost, "/v1/sys/storage/raft/bootstrap/challenge", `{"server_id":"flood"}`, nil)
		if code == http.StatusBadRequest {
			refused++
		} else if code != http.StatusOK {
			t.Fatalf("challenge #%d: %d", i, code)
		}
	}
	if refused == 0 {
		t.Fatal("70 challenges in a row were all given: their rate is unbounded")
	}
	for _, bad := range []string{`{"server_id":"../x"}`, `{"server_id":""}`, `{"server_id":"` + strings.Repeat("a", 65) + `"}`} {
		if code, _, out := rawDo(t, active.addr, "", http.MethodPost, "/v1/sys/storage/raft/bootstrap/challenge", bad, nil); code != http.StatusBadRequest {
			t.Fatalf("challenge for %s: %d %s, want 400", bad, code, out)
		}
	}

	// A removed member hears nothing more: a write after its removal
	// never reaches it.
	removed := tc.nodes[2]
	arca(t, []string{"ARCA_ADDR=http://" + active.addr, "ARCA_TOKEN=" + root}, "", "operator", "raft", "remove-peer", removed.id).must(t, 0)
	ac := newClient(t, active.addr, root)
	if err := ac.Sys().Mount("after", &api.MountInput{Type: "kv"}); err != nil {
		t.Fatal(err)
	}
	code, hdr, _ := rawDo(t, active.addr, root, http.MethodPut, "/v1/after/k", `{"v":"x"}`, nil)
	if code >= 300 {
		t.Fatalf("write after removal: %d", code)
	}
	// The removed node neither has the write nor may forward the read
	// to the active node (its certificate names no member any more).
	code, _, out := rawDo(t, removed.addr, root, http.MethodGet, "/v1/after/k", "", map[string]string{"X-Vault-Index": hdr.Get("X-Vault-Index")})
	if code == http.StatusOK || strings.Contains(out, `"v":"x"`) {
		t.Fatalf("a removed node still reaches the cluster's data: %d %s", code, out)
	}
	// The members still answer it.
	if code, _, out := rawDo(t, tc.nodes[1].addr, root, http.MethodGet, "/v1/after/k", "", map[string]string{"X-Vault-Index": hdr.Get("X-Vault-Index")}); code != http.StatusOK {
		t.Fatalf("a member's read after the removal: %d %s", code, out)
	}
}
