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
	p = startArca(t, addr, "-config="+conf)
	c.SetToken("")
	unseal(t, c, init.Keys[0])
	c.SetToken(init.RootToken)
	for i := range 20 {
		s, err := c.KVv2("secret").Get(t.Context(), fmt.Sprintf("k%d", i))
		if err != nil || s.Data["i"] != fmt.Sprint(i) {
			t.Fatalf("k%d after kill -9 on raft storage: %v, %v\n%s", i, s, err, p.output())
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

// TestRaftSnapshotSaveRestore: through the CLI, a snapshot saved before
// later writes is restored; the server seals itself and, unsealed with
// the same keys, holds exactly the snapshot's data. A token without sudo
// can neither save nor restore.
func TestRaftSnapshotSaveRestore(t *testing.T) {
	addr, clusterAddr := freeAddr(t), freeAddr(t)
	conf := writeConfig(t, addr, `storage "raft" {
  path    = "`+filepath.Join(t.TempDir(), "raft")+`"
  node_id = "node-1"
}`, "disable_mlock = true", `cluster_addr = "http://`+clusterAddr+`"`)
	startArca(t, addr, "-config="+conf)
	c := newClient(t, addr, "")
	init := initAndUnseal(t, c)
	if err := c.Sys().Mount("secret", &api.MountInput{Type: "kv-v2"}); err != nil {
		t.Fatal(err)
	}
	put := func(k, v string) {
		t.Helper()
		if _, err := c.KVv2("secret").Put(t.Context(), k, map[string]any{"v": v}); err != nil {
			t.Fatal(err)
		}
	}
	put("kept", "before")
	env := []string{"ARCA_ADDR=http://" + addr, "ARCA_TOKEN=" + init.RootToken}
	arca(t, env, "", "operator", "raft", "list-peers").must(t, 0, "node-1", "leader")
	// A node alone has nobody to hand the lead to.
	arca(t, env, "", "operator", "step-down").must(t, 1, "no other voting node")
	snap := filepath.Join(t.TempDir(), "arca.snap")
	arca(t, env, "", "operator", "raft", "snapshot", "save", snap).must(t, 0)

	if err := c.Sys().PutPolicy("raft-read", `path "sys/storage/raft/*" { capabilities = ["read", "update"] }`); err != nil {
		t.Fatal(err)
	}
	weak, err := c.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"raft-read"}})
	if err != nil {
		t.Fatal(err)
	}
	weakEnv := []string{"ARCA_ADDR=http://" + addr, "ARCA_TOKEN=" + weak.Auth.ClientToken}
	arca(t, weakEnv, "", "operator", "raft", "snapshot", "save", filepath.Join(t.TempDir(), "x")).must(t, 1, "permission denied")
	arca(t, weakEnv, "", "operator", "raft", "snapshot", "restore", snap).must(t, 1, "permission denied")

	put("kept", "after")
	put("added", "after")
	arca(t, env, "", "operator", "raft", "snapshot", "restore", snap).must(t, 0, "sealed")
	st, err := c.Sys().SealStatus()
	if err != nil || !st.Sealed {
		t.Fatalf("after a restore: %+v, %v; want sealed", st, err)
	}
	c.SetToken("")
	unseal(t, c, init.Keys[0])
	c.SetToken(init.RootToken)
	s, err := c.KVv2("secret").Get(t.Context(), "kept")
	if err != nil || s.Data["v"] != "before" {
		t.Fatalf("kept after restore: %v, %v; want the snapshot's value", s, err)
	}
	if s, err := c.KVv2("secret").Get(t.Context(), "added"); err == nil && s != nil {
		t.Fatalf("a secret written after the snapshot survived the restore: %v", s.Data)
	}
	arca(t, env, "", "operator", "raft", "snapshot", "restore", conf).must(t, 1, "not a snapshot")
}
