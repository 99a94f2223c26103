package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openbao/openbao/api/v2"
)

// TestRaftStorageSingleNode: a server on integrated raft storage starts a
// cluster of its own, and acknowledged writes survive kill -9 (they are
// in the raft log, replayed into the node's state at start).
func TestRaftStorageSingleNode(t *testing.T) {
	addr, clusterAddr := freeAddr(t), freeAddr(t)
	dir := filepath.Join(t.TempDir(), "raft")
	conf := writeConfig(t, addr, `storage "raft" {
  path    = "`+dir+`"
  node_id = "node-1"
}`, "disable_mlock = true", `cluster_addr = "http://`+clusterAddr+`"`)
	p := startArca(t, addr, "-config="+conf)
	c := newClient(t, addr, "")
	init := initAndUnseal(t, c)
	if err := c.Sys().Mount("secret", &api.MountInput{Type: "kv-v2"}); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := c.KVv2("secret").Put(t.Context(), fmt.Sprintf("k%d", i), map[string]any{"i": fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := c.Sys().SealStatus()
	if err != nil || st.StorageType != "raft" {
		t.Fatalf("seal-status storage type: %+v, %v; want raft", st, err)
	}
	p.kill()
	startArca(t, addr, "-config="+conf)
	c.SetToken("")
	unseal(t, c, init.Keys[0])
	c.SetToken(init.RootToken)
	for i := range 20 {
		s, err := c.KVv2("secret").Get(t.Context(), fmt.Sprintf("k%d", i))
		if err != nil || s.Data["i"] != fmt.Sprint(i) {
			t.Fatalf("k%d after kill -9 on raft storage: %v, %v", i, s, err)
		}
	}
}

// TestRaftStorageNeedsClusterAddr: raft without cluster_addr is refused
// at start, naming the key.
func TestRaftStorageNeedsClusterAddr(t *testing.T) {
	addr := freeAddr(t)
	conf := writeConfig(t, addr, `storage "raft" {
  path    = "`+t.TempDir()+`"
  node_id = "n"
}`)
	code, out := runArca(t, exec.Command(arcaBin, "server", "-config="+conf))
	if code == 0 || !strings.Contains(out, "cluster_addr") {
		t.Fatalf("raft without cluster_addr: exit %d, %s", code, out)
	}
}
