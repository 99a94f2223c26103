package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"

	"github.com/arca-secrets/arca/storage/raft"
)

// lastLogIndex reads the last index in a stopped node's Raft log.
func lastLogIndex(t *testing.T, n *clusterNode) uint64 {
	t.Helper()
	last, err := raft.LastLogIndex(n.dir)
	if err != nil {
		t.Fatal(err)
	}
	return last
}

// A member restarted without its unseal keys is sent nothing: its
// cluster port has no certificate of the cluster CA (none is kept on
// disk), and writes made meanwhile, replicated to the other member
// round after round, never reach its log. Unsealed, it rebuilds its state from its own disk, is
// given a certificate, and catches up.
func TestClusterSealedMemberGetsNothing(t *testing.T) {
	tc := newTestCluster(t, 3)
	root := tc.init.RootToken
	active := tc.active(30 * time.Second)
	ac := newClient(t, active.addr, root)
	if err := ac.Sys().Mount("secret", &api.MountInput{Type: "kv"}); err != nil {
		t.Fatal(err)
	}
	var s *clusterNode
	for _, n := range tc.nodes {
		if n != active {
			s = n
			break
		}
	}
	code, hdr, _ := rawDo(t, active.addr, root, http.MethodPut, "/v1/secret/before", `{"v":"before"}`, nil)
	if code/100 != 2 {
		t.Fatalf("write: %d", code)
	}
	if !eventually(30*time.Second, func() bool {
		code, _, _ := rawDo(t, s.addr, root, http.MethodGet, "/v1/secret/before", "", map[string]string{"X-Vault-Index": hdr.Get("X-Vault-Index")})
		return code == http.StatusOK
	}) {
		t.Fatalf("%s never applied the first write", s.id)
	}
	s.p.kill()
	before := lastLogIndex(t, s)

	s.p = startArca(t, s.addr, "-config="+s.conf)
	s.c = newClient(t, s.addr, "")
	if st, err := s.c.Sys().SealStatus(); err != nil || !st.Sealed || !st.Initialized {
		t.Fatalf("restarted: %+v, %v; want initialised and sealed", st, err)
	}
	if got, want := clusterPortCert(t, s.clusterAddr), clusterPortCert(t, active.clusterAddr); bytes.Equal(got.AuthorityKeyId, want.AuthorityKeyId) {
		t.Fatal("a sealed member presents a certificate of the cluster CA")
	}
	var other *clusterNode
	for _, n := range tc.nodes {
		if n != active && n != s {
			other = n
		}
	}
	for i := range 5 {
		code, hdr, body := rawDo(t, active.addr, root, http.MethodPut, fmt.Sprintf("/v1/secret/while-sealed-%d", i), `{"v":"x"}`, nil)
		if code/100 != 2 {
			t.Fatalf("write while %s is sealed: %d %s", s.id, code, body)
		}
		// Replicated to the other member, each in its own round: a
		// member the leader may send to (as the sealed one was before)
		// would have them too by now.
		if !eventually(30*time.Second, func() bool {
			code, _, _ := rawDo(t, other.addr, root, http.MethodGet, fmt.Sprintf("/v1/secret/while-sealed-%d", i), "", map[string]string{"X-Vault-Index": hdr.Get("X-Vault-Index")})
			return code == http.StatusOK
		}) {
			t.Fatalf("%s never applied write %d", other.id, i)
		}
	}
	s.p.kill()
	if after := lastLogIndex(t, s); after != before {
		t.Fatalf("a sealed member's log grew from %d to %d: it was sent entries", before, after)
	}

	s.p = startArca(t, s.addr, "-config="+s.conf)
	s.c = newClient(t, s.addr, "")
	unseal(t, s.c, tc.init.Keys[0])
	_, hdr, _ = rawDo(t, active.addr, root, http.MethodGet, "/v1/secret/while-sealed-4", "", nil)
	var body string
	if !eventually(30*time.Second, func() bool {
		code, _, body = rawDo(t, s.addr, root, http.MethodGet, "/v1/secret/while-sealed-4", "", map[string]string{"X-Vault-Index": hdr.Get("X-Vault-Index")})
		return code == http.StatusOK && strings.Contains(body, `"v":"x"`)
	}) {
		t.Fatalf("%s did not catch up once unsealed: %d %s\n%s", s.id, code, body, s.p.output())
	}
	if got, want := clusterPortCert(t, s.clusterAddr), clusterPortCert(t, active.clusterAddr); !bytes.Equal(got.AuthorityKeyId, want.AuthorityKeyId) {
		t.Fatal("an unsealed member has no certificate of the cluster CA")
	}
}
