package raft

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/storagetest"
)

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// fast shortens Raft's timers for loopback tests.
func fast(c *hraft.Config) {
	// Not shorter: under -race beside the other packages' tests, a 200ms
	// heartbeat lost the lead mid-test, and so did a 200ms leader lease
	// ("leadership lost while committing log") on a loaded machine.
	c.HeartbeatTimeout = 400 * time.Millisecond
	c.ElectionTimeout = 400 * time.Millisecond
	c.LeaderLeaseTimeout = 400 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
}

// keyLog records what a node was told it applied.
type keyLog struct {
	mu   sync.Mutex
	keys []string
}

func (k *keyLog) add(keys []string) {
	k.mu.Lock()
	k.keys = append(k.keys, keys...)
	k.mu.Unlock()
}

func (k *keyLog) has(key string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Contains(k.keys, key)
}

func openNode(t testing.TB, dir, id, addr string, applied *keyLog) *Node {
	t.Helper()
	return openNodeTLS(t, dir, id, addr, applied, nil)
}

func openNodeTLS(t testing.TB, dir, id, addr string, applied *keyLog, conf *tls.Config) *Node {
	t.Helper()
	cfg := Config{Dir: dir, NodeID: id, BindAddr: addr, tune: fast, ApplyTimeout: 5 * time.Second, TLS: conf}
	if applied != nil {
		cfg.Applied = applied.add
	}
	n, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not synchronising on time
	}
}

func TestSingleNodeConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		n := openNode(t, t.TempDir(), "n1", freeAddr(t), nil)
		t.Cleanup(func() { _ = n.Close() })
		if err := n.Bootstrap(nil); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "leadership", n.IsLeader)
		return n
	})
}

type cluster struct {
	tls   *tls.Config
	nodes map[string]*Node
	dirs  map[string]string
	addrs map[string]string
	logs  map[string]*keyLog
}

func newCluster(t *testing.T, size int) *cluster {
	t.Helper()
	conf, err := ClusterTLS("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{tls: conf, nodes: map[string]*Node{}, dirs: map[string]string{}, addrs: map[string]string{}, logs: map[string]*keyLog{}}
	for i := 1; i <= size; i++ {
		id := fmt.Sprintf("n%d", i)
		c.dirs[id], c.addrs[id], c.logs[id] = t.TempDir(), freeAddr(t), &keyLog{}
		c.nodes[id] = openNodeTLS(t, c.dirs[id], id, c.addrs[id], c.logs[id], conf)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			_ = n.Close()
		}
	})
	if err := c.nodes["n1"].Bootstrap(nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n1 to lead", c.nodes["n1"].IsLeader)
	for i := 2; i <= size; i++ {
		id := fmt.Sprintf("n%d", i)
		// Under -race beside other packages n1 may lose the lead while
		// adding a voter: the leader of the moment adds it.
		waitFor(t, "adding "+id, func() bool {
			_, leader := c.leader(t)
			return leader.AddVoter(id, c.addrs[id]) == nil
		})
	}
	return c
}

func (c *cluster) leader(t *testing.T) (string, *Node) {
	t.Helper()
	var id string
	waitFor(t, "a leader", func() bool {
		for nid, n := range c.nodes {
			if n.IsLeader() {
				id = nid
				return true
			}
		}
		return false
	})
	return id, c.nodes[id]
}

// put writes e through whichever node leads, again when the lead moved
// mid-write (a loaded machine misses heartbeats).
func (c *cluster) put(t *testing.T, e *storage.Entry) {
	t.Helper()
	for range 10 {
		_, leader := c.leader(t)
		err := leader.Put(context.Background(), e)
		if err == nil {
			return
		}
		if !errors.Is(err, ErrNotLeader) {
			t.Fatal(err)
		}
	}
	t.Fatalf("writing %s: the lead kept moving", e.Key)
}

func TestClusterReplicatesAndTellsFollowers(t *testing.T) {
	c := newCluster(t, 3)
	ctx := context.Background()
	leaderID, leader := c.leader(t)
	if err := leader.WriteAll(ctx, []*storage.Entry{{Key: "sys/mounts", Value: []byte("table")}, {Key: "logical/a/x", Value: []byte("1")}}, nil); err != nil {
		t.Fatal(err)
	}
	for id, n := range c.nodes {
		waitFor(t, id+" to apply", func() bool {
			e, err := n.Get(ctx, "logical/a/x")
			return err == nil && e != nil && string(e.Value) == "1"
		})
		// The leader wrote them: only the others are told.
		told := c.logs[id].has("sys/mounts") && c.logs[id].has("logical/a/x")
		if told == (id == leaderID) && c.nodes[leaderID].IsLeader() {
			t.Fatalf("%s (leader: %v) told of the keys it applied: %v", id, id == leaderID, c.logs[id].keys)
		}
	}
	peers, err := leader.Peers()
	if err != nil || len(peers) != 3 {
		t.Fatalf("peers %v, %v; want 3", peers, err)
	}
	for id, n := range c.nodes {
		if n.IsLeader() {
			continue
		}
		if err := n.Put(ctx, &storage.Entry{Key: "k", Value: []byte("v")}); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("a write on follower %s: %v, want ErrNotLeader", id, err)
		}
	}
}

// TestLeaderLossKeepsCommittedWrites: the leader dies; the others elect
// a new one that has every acknowledged write and takes new ones; the old
// leader, restarted from its directory, catches up.
func TestLeaderLossKeepsCommittedWrites(t *testing.T) {
	c := newCluster(t, 3)
	ctx := context.Background()
	for i := range 20 {
		c.put(t, &storage.Entry{Key: fmt.Sprintf("k/%d", i), Value: []byte("v")})
	}
	oldID, old := c.leader(t)
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	delete(c.nodes, oldID)
	newID, leader := c.leader(t)
	if newID == oldID {
		t.Fatal("the closed node still leads")
	}
	// A new leader has every committed entry in its log; it has applied
	// them once the barrier passes.
	if err := leader.Barrier(); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if e, err := leader.Get(ctx, fmt.Sprintf("k/%d", i)); err != nil || e == nil {
			t.Fatalf("acknowledged write k/%d lost after failover: %v", i, err)
		}
	}
	if err := leader.Put(ctx, &storage.Entry{Key: "after", Value: []byte("failover")}); err != nil {
		t.Fatalf("the new leader refuses writes: %v", err)
	}
	back := openNodeTLS(t, c.dirs[oldID], oldID, c.addrs[oldID], nil, c.tls)
	c.nodes[oldID] = back
	waitFor(t, "the old leader to catch up", func() bool {
		e, err := back.Get(ctx, "after")
		return err == nil && e != nil
	})
}

// TestSnapshotRestoresState: after a snapshot and a restart, the node's
// state comes back from the snapshot and the log after it.
func TestSnapshotRestoresState(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	n := openNode(t, dir, "n1", addr, nil)
	if err := n.Bootstrap(nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "leadership", n.IsLeader)
	ctx := context.Background()
	if err := n.Put(ctx, &storage.Entry{Key: "a/b", Value: []byte("before")}); err != nil {
		t.Fatal(err)
	}
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if err := n.Put(ctx, &storage.Entry{Key: "a/c", Value: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	applied := &keyLog{}
	n = openNode(t, dir, "n1", addr, applied)
	defer n.Close()
	waitFor(t, "leadership after restart", n.IsLeader)
	waitFor(t, "state restored", func() bool {
		b, _ := n.Get(ctx, "a/b")
		c, _ := n.Get(ctx, "a/c")
		return b != nil && string(b.Value) == "before" && c != nil && string(c.Value) == "after"
	})
}

// TestSaveAndRestoreSnapshot: a saved snapshot, restored after later
// writes, brings back exactly the state it held; garbage is refused.
func TestSaveAndRestoreSnapshot(t *testing.T) {
	n := openNode(t, t.TempDir(), "n1", freeAddr(t), nil)
	defer n.Close()
	if err := n.Bootstrap(nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "leadership", n.IsLeader)
	ctx := context.Background()
	if err := n.Put(ctx, &storage.Entry{Key: "a", Value: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	var saved bytes.Buffer
	if err := n.SaveSnapshot(&saved, testSeal); err != nil {
		t.Fatal(err)
	}
	if err := n.Put(ctx, &storage.Entry{Key: "b", Value: []byte("2")}); err != nil {
		t.Fatal(err)
	}
	if err := n.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	snap, err := ReadSnapshot(bytes.NewReader(saved.Bytes()), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.RestoreSnapshot(snap); err != nil {
		t.Fatal(err)
	}
	if e, _ := n.Get(ctx, "a"); e == nil || string(e.Value) != "1" {
		t.Fatalf("a after restore: %v, want 1", e)
	}
	if e, _ := n.Get(ctx, "b"); e != nil {
		t.Fatalf("b, written after the snapshot, survived the restore: %v", e)
	}
	if _, err := ReadSnapshot(strings.NewReader("not a snapshot\nat all"), 1<<20); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("restoring garbage: %v, want ErrBadSnapshot", err)
	}
	if e, _ := n.Get(ctx, "a"); e == nil {
		t.Fatal("a refused restore lost data")
	}
}

// TestRaftPortRefusesOutsiders: the Raft port speaks only mutual TLS with
// the cluster's CA. A plain TCP peer, a TLS client without a certificate
// and one with another CA's certificate get nowhere, and a node of
// another cluster that is told this one's address cannot take part: the
// node keeps leading its own cluster of one and its data stays.
func TestRaftPortRefusesOutsiders(t *testing.T) {
	addr := freeAddr(t)
	own, err := ClusterTLS("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	n := openNodeTLS(t, t.TempDir(), "n1", addr, nil, own)
	defer n.Close()
	if err := n.Bootstrap(nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "leadership", n.IsLeader)
	ctx := context.Background()
	if err := n.Put(ctx, &storage.Entry{Key: "a", Value: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	foreign, err := ClusterTLS("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	// accepted reports whether the port takes a connection with conf: a
	// refused client certificate shows as an error on the first read
	// (TLS 1.3); an accepted one leaves the port waiting for an RPC.
	accepted := func(conf *tls.Config) bool {
		conn, err := tls.Dial("tcp", addr, conf)
		if err != nil {
			return false
		}
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		_, err = conn.Read(make([]byte, 1))
		var ne net.Error
		return errors.As(err, &ne) && ne.Timeout()
	}
	if !accepted(&tls.Config{ServerName: "127.0.0.1", RootCAs: own.RootCAs, Certificates: own.Certificates}) {
		t.Fatal("the cluster's own certificate is refused: the checks below would prove nothing")
	}
	for name, conf := range map[string]*tls.Config{
		"no certificate":           {ServerName: "127.0.0.1", RootCAs: own.RootCAs},
		"another CA's certificate": {ServerName: "127.0.0.1", RootCAs: own.RootCAs, Certificates: foreign.Certificates},
	} {
		if accepted(conf) {
			t.Errorf("%s: the raft port accepted the connection", name)
		}
	}
	// A whole node of another cluster, made to lead and told to add this
	// node, cannot reach it.
	outsider := openNodeTLS(t, t.TempDir(), "evil", freeAddr(t), nil, foreign)
	defer outsider.Close()
	if err := outsider.Bootstrap(map[string]string{"n1": addr}); err != nil {
		t.Fatal(err)
	}
	termOf := func(x *Node) int {
		v, _ := strconv.Atoi(x.raft.Stats()["term"])
		return v
	}
	n1Term := termOf(n)
	// Let the outsider stand for election: it asks n1 for a (pre-)vote
	// with a higher term, which n1 must never hear.
	waitFor(t, "the outsider to stand for election", func() bool { return outsider.raft.State() == hraft.Candidate })
	if termOf(n) != n1Term {
		t.Fatalf("n1's term moved from %d to %d: an outsider's vote request reached it", n1Term, termOf(n))
	}
	if outsider.IsLeader() {
		t.Fatal("the outsider leads a cluster that includes n1 without n1's vote")
	}
	if !n.IsLeader() {
		t.Fatal("n1 lost its leadership to an outsider")
	}
	if e, _ := n.Get(ctx, "a"); e == nil || string(e.Value) != "1" {
		t.Fatalf("n1's data after the outsider's attempts: %v", e)
	}
}
