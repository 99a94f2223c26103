package raft

import (
	"context"
	"fmt"
	"testing"

	"github.com/arca-secrets/arca/storage"
)

// A restarted node has its state back from its own disk (snapshot, then
// the log up to what it had applied) before it hears from any peer: here
// the whole cluster is down and the node, alone, has no quorum. When the
// others return, Raft applies the same entries again (skipped) and the
// later ones, and the state is the cluster's.
func TestRestartedNodeRecoversFromItsOwnDisk(t *testing.T) {
	c := newCluster(t, 3)
	ctx := context.Background()
	_, leader := c.leader(t)
	put := func(k, v string) {
		t.Helper()
		c.put(t, &storage.Entry{Key: k, Value: []byte(v)})
	}
	for i := range 10 {
		put(fmt.Sprintf("k/%d", i), "first")
	}
	waitFor(t, "n2 to apply", func() bool { return c.nodes["n2"].AppliedIndex() >= leader.AppliedIndex() })
	if err := c.nodes["n2"].Snapshot(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		put(fmt.Sprintf("k/%d", i), "second")
	}
	_, leader = c.leader(t)
	if err := leader.Delete(ctx, "k/9"); err != nil {
		t.Fatal(err)
	}
	want := leader.AppliedIndex()
	waitFor(t, "n2 to apply", func() bool { return c.nodes["n2"].AppliedIndex() >= want })
	for id, n := range c.nodes {
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
		delete(c.nodes, id)
	}

	n2 := openNodeTLS(t, c.dirs["n2"], "n2", c.addrs["n2"], nil, c.tls)
	c.nodes["n2"] = n2
	check := func(when string) {
		t.Helper()
		for i := range 9 {
			e, err := n2.Get(ctx, fmt.Sprintf("k/%d", i))
			want := "first"
			if i < 5 {
				want = "second"
			}
			if err != nil || e == nil || string(e.Value) != want {
				t.Fatalf("%s: k/%d = %v, %v; want %q", when, i, e, err, want)
			}
		}
		if e, _ := n2.Get(ctx, "k/9"); e != nil {
			t.Fatalf("%s: a deleted key is back", when)
		}
	}
	if n2.IsLeader() || n2.AppliedIndex() < want {
		t.Fatalf("restarted alone: leader %v, applied %d; want a follower at %d", n2.IsLeader(), n2.AppliedIndex(), want)
	}
	check("restarted alone")

	for _, id := range []string{"n1", "n3"} {
		c.nodes[id] = openNodeTLS(t, c.dirs[id], id, c.addrs[id], nil, c.tls)
	}
	put("k/after", "x")
	waitFor(t, "n2 to catch up", func() bool {
		e, _ := n2.Get(ctx, "k/after")
		return e != nil
	})
	check("after the cluster returned")
}
