package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"
)

// snapshotLoad is what a write load acknowledged, each with when: KV
// writes (unique keys), tokens created, AppRole logins (tokens with
// leases) and policies written.
type snapshotLoad struct {
	mu     sync.Mutex
	kv     []ackedAt // key → value
	tokens []ackedAt // token → policy
	logins []ackedAt // token → accessor
	pols   []ackedAt // policy name → the path it grants
	errs   int
}

type ackedAt struct {
	key, val string
	at       time.Time
}

func (l *snapshotLoad) add(list *[]ackedAt, key, val string) {
	l.mu.Lock()
	*list = append(*list, ackedAt{key, val, time.Now()})
	l.mu.Unlock()
}

// before are the entries of list acknowledged before t (list is read
// under the lock: the load appends to it meanwhile).
func (l *snapshotLoad) before(list *[]ackedAt, t time.Time) []ackedAt {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []ackedAt
	for _, a := range *list {
		if a.at.Before(t) {
			out = append(out, a)
		}
	}
	return out
}

// run sends the load through the cluster's nodes in turn until stop.
func (l *snapshotLoad) run(t *testing.T, tc *testCluster, roleID, secretID string, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	worker := func(w int, op func(c *api.Client, i int) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				n := tc.nodes[(w+i)%len(tc.nodes)]
				if err := op(newClientQuiet(n.addr), i); err != nil {
					l.mu.Lock()
					l.errs++
					l.mu.Unlock()
				}
			}
		}()
	}
	root := tc.init.RootToken
	for w := range 2 {
		worker(w, func(c *api.Client, i int) error {
			c.SetToken(root)
			key := fmt.Sprintf("load/w%d-%d", w, i)
			if _, err := c.KVv2("secret").Put(t.Context(), key, map[string]any{"v": key}); err != nil {
				return err
			}
			l.add(&l.kv, key, key)
			return nil
		})
	}
	worker(2, func(c *api.Client, i int) error {
		c.SetToken(root)
		s, err := c.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"app"}})
		if err != nil {
			return err
		}
		l.add(&l.tokens, s.Auth.ClientToken, "app")
		return nil
	})
	worker(3, func(c *api.Client, i int) error {
		s, err := c.Logical().Write("auth/approle/login", map[string]any{"role_id": roleID, "secret_id": secretID})
		if err != nil {
			return err
		}
		l.add(&l.logins, s.Auth.ClientToken, s.Auth.Accessor)
		return nil
	})
	worker(4, func(c *api.Client, i int) error {
		c.SetToken(root)
		name, path := fmt.Sprintf("load-%d", i), fmt.Sprintf("secret/data/load/p%d", i)
		if err := c.Sys().PutPolicy(name, fmt.Sprintf(`path %q { capabilities = ["read"] }`, path)); err != nil {
			return err
		}
		l.add(&l.pols, name, path)
		return nil
	})
	return &wg
}

// TestClusterSnapshotRestoreFreshCluster: a 3-node cluster under a write
// load (KV writes, token creates, AppRole logins) is saved through a
// standby; a second cluster with keys of its own refuses the snapshot
// (another cluster's), a truncated or altered one and a token without
// sudo, and keeps its data; forced, the snapshot seals every node of the
// second cluster (one of them down meanwhile, and catching up after),
// which, unsealed with the first cluster's keys, serves on every node
// every secret, token, login and policy acknowledged
// before the save began, reads back every stored secret undamaged, and
// takes writes again over its cluster port.
func TestClusterSnapshotRestoreFreshCluster(t *testing.T) {
	a := newTestCluster(t, 3)
	ra := a.active(30 * time.Second)
	root := ra.c
	root.SetToken(a.init.RootToken)
	if err := root.Sys().Mount("secret", &api.MountInput{Type: "kv-v2"}); err != nil {
		t.Fatal(err)
	}
	if err := root.Sys().PutPolicy("app", `path "secret/data/app/*" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	if _, err := root.KVv2("secret").Put(t.Context(), "app/db", map[string]any{"password": "before-the-save"}); err != nil {
		t.Fatal(err)
	}
	if err := root.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("auth/approle/role/web", map[string]any{"token_policies": "app", "token_ttl": "1h"}); err != nil {
		t.Fatal(err)
	}
	rid, err := root.Logical().Read("auth/approle/role/web/role-id")
	if err != nil {
		t.Fatal(err)
	}
	sid, err := root.Logical().Write("auth/approle/role/web/secret-id", nil)
	if err != nil {
		t.Fatal(err)
	}
	var standby *clusterNode
	for _, n := range a.nodes {
		if n != ra {
			standby = n
		}
	}

	// The load runs before, during and after the save.
	var load snapshotLoad
	// A few seconds of load in CI; ARCA_LONG_TESTS=1 saves after 5,000
	// KV writes (and restores that much).
	minKV, wait := 20, 30*time.Second
	if longTests() {
		minKV, wait = 5000, 10*time.Minute
	}
	stop := make(chan struct{})
	wg := load.run(t, a, rid.Data["role_id"].(string), sid.Data["secret_id"].(string), stop)
	if !eventually(wait, func() bool {
		load.mu.Lock()
		defer load.mu.Unlock()
		return len(load.kv) >= minKV && len(load.tokens) >= 5 && len(load.logins) >= 5 && len(load.pols) >= 5
	}) {
		close(stop)
		wg.Wait()
		t.Fatalf("the load made no progress: %d errors", load.errs)
	}
	snap := filepath.Join(t.TempDir(), "a.snap")
	saveStart := time.Now()
	env := []string{"ARCA_ADDR=http://" + standby.addr, "ARCA_TOKEN=" + a.init.RootToken}
	arca(t, env, "", "operator", "raft", "snapshot", "save", snap).must(t, 0)
	saveEnd := time.Now()
	kvAtSave := len(load.before(&load.kv, saveEnd))
	if !eventually(30*time.Second, func() bool { return len(load.before(&load.kv, time.Now())) > kvAtSave+10 }) {
		t.Fatal("the load stopped at the save")
	}
	close(stop)
	wg.Wait()
	kv, tokens, logins, pols := load.before(&load.kv, saveStart), load.before(&load.tokens, saveStart), load.before(&load.logins, saveStart), load.before(&load.pols, saveStart)
	t.Logf("acknowledged before the save: %d KV writes, %d tokens, %d logins, %d policies (%d KV writes in all, %d errors); the save took %v",
		len(kv), len(tokens), len(logins), len(pols), len(load.kv), load.errs, saveEnd.Sub(saveStart))
	saved, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}

	// A second cluster, initialised with keys of its own.
	b := newTestCluster(t, 3)
	rb := b.active(30 * time.Second)
	rb.c.SetToken(b.init.RootToken)
	if err := rb.c.Sys().Mount("mine", &api.MountInput{Type: "kv-v2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := rb.c.KVv2("mine").Put(t.Context(), "marker", map[string]any{"v": "b"}); err != nil {
		t.Fatal(err)
	}
	if err := rb.c.Sys().PutPolicy("raft-no-sudo", `path "sys/storage/raft/*" { capabilities = ["create", "read", "update"] }`); err != nil {
		t.Fatal(err)
	}
	weak, err := rb.c.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"raft-no-sudo"}})
	if err != nil {
		t.Fatal(err)
	}
	var bStandby *clusterNode
	for _, n := range b.nodes {
		if n != rb {
			bStandby = n
		}
	}
	flipped := bytes.Clone(saved)
	flipped[len(saved)/2] ^= 0x20
	huge := strings.Repeat("x", 33<<20)
	for _, c := range []struct {
		name, path, token, body string
		status                  int
		says                    string
	}{
		{"another cluster's", "snapshot", b.init.RootToken, string(saved), 400, "another cluster"},
		{"truncated", "snapshot-force", b.init.RootToken, string(saved[:len(saved)-len(saved)/3]), 400, "not a snapshot"},
		{"a flipped byte", "snapshot-force", b.init.RootToken, string(flipped), 400, "not a snapshot"},
		{"not a snapshot", "snapshot-force", b.init.RootToken, "{}\n[]", 400, "not a snapshot"},
		{"no sudo", "snapshot-force", weak.Auth.ClientToken, string(saved), 403, "permission denied"},
		{"no sudo, plain", "snapshot", weak.Auth.ClientToken, string(saved), 403, "permission denied"},
		{"huge", "snapshot-force", b.init.RootToken, huge, 413, "larger than"},
	} {
		for _, n := range []*clusterNode{rb, bStandby} {
			code, _, body := rawDo(t, n.addr, c.token, http.MethodPost, "/v1/sys/storage/raft/"+c.path, c.body, nil)
			if code != c.status || !strings.Contains(body, c.says) {
				t.Fatalf("%s snapshot through %s: %d %s; want %d saying %q", c.name, n.id, code, body, c.status, c.says)
			}
		}
	}
	for _, n := range b.nodes {
		c := newClient(t, n.addr, b.init.RootToken)
		st, err := c.Sys().SealStatus()
		if err != nil || st.Sealed {
			t.Fatalf("%s after refused restores: %+v, %v; want unsealed", n.id, st, err)
		}
		if s, err := c.KVv2("mine").Get(t.Context(), "marker"); err != nil || s.Data["v"] != "b" {
			t.Fatalf("%s lost its data to refused restores: %v, %v", n.id, s, err)
		}
	}

	// Forced, through a standby, while one node is down: every running
	// node seals.
	var down *clusterNode
	for _, n := range b.nodes {
		if n != rb && n != bStandby {
			down = n
		}
	}
	down.p.kill()
	up := []*clusterNode{rb, bStandby}
	envB := []string{"ARCA_ADDR=http://" + bStandby.addr, "ARCA_TOKEN=" + b.init.RootToken}
	restoreStart := time.Now()
	arca(t, envB, "", "operator", "raft", "snapshot", "restore", "-force", snap).must(t, 0, "sealed")
	for _, n := range up {
		if !eventually(30*time.Second, func() bool {
			st, err := newClientQuiet(n.addr).Sys().SealStatus()
			return err == nil && st.Sealed
		}) {
			t.Fatalf("%s did not seal after the restore:\n%s", n.id, n.p.output())
		}
	}
	// Unsealed with the first cluster's keys (b's own no longer open it).
	if _, err := newClientQuiet(b.nodes[0].addr).Sys().Unseal(b.init.Keys[0]); err == nil {
		if st, _ := newClientQuiet(b.nodes[0].addr).Sys().SealStatus(); st != nil && !st.Sealed {
			t.Fatal("the restored cluster unsealed with its old keys")
		}
	}
	for _, n := range up {
		c := newClientQuiet(n.addr)
		if _, err := c.Sys().ResetUnsealProcess(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Sys().Unseal(a.init.Keys[0]); err != nil {
			t.Fatalf("unsealing %s with the first cluster's key: %v", n.id, err)
		}
	}
	for _, n := range up {
		if !eventually(30*time.Second, func() bool {
			st, err := newClientQuiet(n.addr).Sys().SealStatus()
			return err == nil && !st.Sealed
		}) {
			t.Fatalf("%s did not unseal:\n%s", n.id, n.p.output())
		}
	}
	b.active(60 * time.Second)
	t.Logf("restore of %d bytes to an active node again (two nodes unsealed): %v", len(saved), time.Since(restoreStart))
	// The node that was down comes back with the second cluster's data
	// on its disk and no certificate: it is sent nothing until unsealed,
	// with the second cluster's key, which its own data needs. Then it
	// takes a certificate of the second cluster's CA, which the moved
	// nodes still trust, catches up, seals itself (its root key does not
	// open the restored keyring) and unseals with the first cluster's key.
	down.p = startArca(t, down.addr, "-config="+down.conf)
	dc := newClientQuiet(down.addr)
	if st, err := dc.Sys().Unseal(b.init.Keys[0]); err != nil || st.Sealed {
		t.Fatalf("%s, down during the restore, would not unseal with its own data's key: %+v, %v\n%s", down.id, st, err, down.p.output())
	}
	if !eventually(60*time.Second, func() bool {
		st, err := dc.Sys().SealStatus()
		return err == nil && st.Sealed
	}) {
		t.Fatalf("%s did not catch up with the restore and seal:\n%s", down.id, down.p.output())
	}
	if !eventually(60*time.Second, func() bool {
		c := newClientQuiet(down.addr)
		if _, err := c.Sys().ResetUnsealProcess(); err != nil {
			return false
		}
		st, err := c.Sys().Unseal(a.init.Keys[0])
		return err == nil && !st.Sealed
	}) {
		t.Fatalf("%s, down during the restore, did not catch up and unseal:\n%s", down.id, down.p.output())
	}

	// Writes work again, through every node (a standby forwards over the
	// cluster port: the nodes talk).
	for i, n := range b.nodes {
		c := newClient(t, n.addr, a.init.RootToken)
		if !eventually(30*time.Second, func() bool {
			_, err := c.KVv2("secret").Put(t.Context(), fmt.Sprintf("after/%d", i), map[string]any{"v": "after"})
			return err == nil
		}) {
			t.Fatalf("a write through %s after the restore failed:\n%s", n.id, n.p.output())
		}
	}
	for _, n := range b.nodes {
		c := newClient(t, n.addr, a.init.RootToken)
		checkRestored(t, c, n.id, kv, tokens, logins, pols)
		if s, err := c.KVv2("mine").Get(t.Context(), "marker"); err == nil && s != nil {
			t.Fatalf("%s: the second cluster's own secret survived the restore: %v", n.id, s.Data)
		}
	}
	restoreOwn(t, a, snap, kv[0].key, load.kv[len(load.kv)-1].key)

	// A login acknowledged before the save renews: its lease came back.
	if len(logins) > 0 {
		c := newClient(t, b.nodes[0].addr, logins[0].key)
		if _, err := c.Auth().Token().RenewSelf(60); err != nil {
			t.Fatalf("renewing a restored login: %v", err)
		}
	}
}

// checkRestored reads back, through node c, every secret, token and login
// acknowledged before the save, and every secret stored at all.
func checkRestored(t *testing.T, c *api.Client, id string, kv, tokens, logins, pols []ackedAt) {
	t.Helper()
	for _, p := range pols {
		rules, err := c.Sys().GetPolicy(p.key)
		if err != nil || !strings.Contains(rules, p.val) {
			t.Fatalf("%s: policy %s, acknowledged before the save: %q, %v", id, p.key, rules, err)
		}
	}
	for _, w := range kv {
		s, err := c.KVv2("secret").Get(t.Context(), w.key)
		if err != nil || s.Data["v"] != w.val {
			t.Fatalf("%s: %s, acknowledged before the save: %v, %v", id, w.key, s, err)
		}
	}
	// Nothing stored is damaged: every key listed reads.
	list, err := c.Logical().List("secret/metadata/load")
	if err != nil || list == nil {
		t.Fatalf("%s: listing the restored secrets: %v", id, err)
	}
	keys, _ := list.Data["keys"].([]any)
	if len(keys) < len(kv) {
		t.Fatalf("%s: %d secrets listed, %d acknowledged before the save", id, len(keys), len(kv))
	}
	for _, k := range keys {
		if _, err := c.KVv2("secret").Get(t.Context(), "load/"+k.(string)); err != nil {
			t.Fatalf("%s: load/%v does not read: %v", id, k, err)
		}
	}
	for _, list := range [][]ackedAt{tokens, logins} {
		for _, tok := range list {
			tc := c.WithNamespace("")
			tc.SetToken(tok.key)
			s, err := tc.Auth().Token().LookupSelf()
			if err != nil {
				t.Fatalf("%s: a token acknowledged before the save: %v", id, err)
			}
			if pols, _ := s.TokenPolicies(); !strings.Contains(strings.Join(pols, ","), "app") {
				t.Fatalf("%s: a restored token's policies: %v", id, pols)
			}
			// Its policy came back with it.
			if d, err := tc.KVv2("secret").Get(t.Context(), "app/db"); err != nil || d.Data["password"] != "before-the-save" {
				t.Fatalf("%s: a restored token reading under its restored policy: %v, %v", id, d, err)
			}
		}
	}
}

// restoreOwn restores a cluster's own backup through a standby (no
// -force needed): the active node that served it seals and another takes
// over; the standbys stay unsealed and serve the backup's state at once
// (a secret from before it, none of the writes after), and the sealed
// node, unsealed again with the same key, serves it too.
func restoreOwn(t *testing.T, tc *testCluster, snap, before, after string) {
	t.Helper()
	// The lead may have moved under the load.
	active := tc.active(30 * time.Second)
	standby := tc.nodes[0]
	if standby == active {
		standby = tc.nodes[1]
	}
	env := []string{"ARCA_ADDR=http://" + standby.addr, "ARCA_TOKEN=" + tc.init.RootToken}
	arca(t, env, "", "operator", "raft", "snapshot", "restore", snap).must(t, 0, "sealed")
	if !eventually(30*time.Second, func() bool {
		st, err := newClientQuiet(active.addr).Sys().SealStatus()
		return err == nil && st.Sealed
	}) {
		t.Fatalf("%s, which served the restore, did not seal", active.id)
	}
	if !eventually(30*time.Second, func() bool {
		for _, n := range tc.nodes {
			if l, err := leaderOf(n); n != active && err == nil && l.IsSelf {
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no other node took over from the sealed %s:\n%s", active.id, active.p.output())
	}
	for _, n := range tc.nodes {
		if n == active {
			continue
		}
		if st, err := newClientQuiet(n.addr).Sys().SealStatus(); err != nil || st.Sealed {
			t.Fatalf("%s sealed after a restore of its own cluster's backup: %+v, %v", n.id, st, err)
		}
	}
	if _, err := newClientQuiet(active.addr).Sys().Unseal(tc.init.Keys[0]); err != nil {
		t.Fatal(err)
	}
	for _, n := range tc.nodes {
		c := newClient(t, n.addr, tc.init.RootToken)
		if !eventually(30*time.Second, func() bool {
			s, err := c.KVv2("secret").Get(t.Context(), before)
			return err == nil && s.Data["v"] == before
		}) {
			t.Fatalf("%s after restoring its own backup: %s is missing", n.id, before)
		}
		if s, err := c.KVv2("secret").Get(t.Context(), after); err == nil && s != nil {
			t.Fatalf("%s after restoring its own backup: %s, written after the save, is there", n.id, after)
		}
	}
}
