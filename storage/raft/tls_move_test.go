package raft

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/arca-secrets/arca/storage"
)

// moveTo gives node id a certificate of ca, as cluster.Node does when
// the barrier holds another cluster CA than the node's.
func (c *cluster) moveTo(t *testing.T, id string, ca *CA) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.Issue(id, &key.PublicKey, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.nodes[id].SetIdentity(der, key, ca.Cert); err != nil {
		t.Fatal(err)
	}
}

// restart closes node id and opens it again from its directory (its
// identity file): every connection to and from it is made anew.
func (c *cluster) restart(t *testing.T, id string) {
	t.Helper()
	// A leader's shutdown may report a write it was committing (the
	// write's own caller saw it fail and retries): not this test's
	// concern.
	_ = c.nodes[id].Close()
	c.nodes[id] = openNodeTLS(t, c.dirs[id], id, c.addrs[id], c.logs[id], nil)
}

// replicates writes key through the leader and waits until every node
// has applied it.
func (c *cluster) replicates(t *testing.T, key string) {
	t.Helper()
	ctx := context.Background()
	waitFor(t, "a write to "+key+" to be accepted", func() bool {
		_, leader := c.leader(t)
		return leader.Put(ctx, &storage.Entry{Key: key, Value: []byte("v")}) == nil
	})
	for id, n := range c.nodes {
		waitFor(t, id+" to apply "+key, func() bool {
			e, _ := n.Get(ctx, key)
			return e != nil
		})
	}
}

// TestMoveToAnotherClusterCA: after a restore brings another cluster CA,
// nodes move to it one at a time (as each is unsealed); at every step,
// with every connection made anew (restarts), moved and unmoved nodes
// still replicate to each other, and the moved ones keep the old
// certificate across a restart. Once all have moved, they talk with the
// new CA alone.
func TestMoveToAnotherClusterCA(t *testing.T) {
	c := newCluster(t, 3)
	caB, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	caA, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"n1", "n2", "n3"} {
		c.moveTo(t, id, caB)
	}
	for _, id := range []string{"n1", "n2", "n3"} {
		c.restart(t, id)
	}
	c.replicates(t, "on-b")
	for i, id := range []string{"n1", "n2", "n3"} {
		c.moveTo(t, id, caA)
		if prev := c.nodes[id].stream.id.Load().prev; prev == nil || !prev.ca.Equal(caB.Cert) {
			t.Fatalf("%s moved to the new CA without keeping the old certificate", id)
		}
		for _, r := range []string{"n1", "n2", "n3"} {
			c.restart(t, r)
		}
		c.replicates(t, "moved-"+id)
		if got := c.nodes[id].IdentityCA(); !got.Equal(caA.Cert) {
			t.Fatalf("%s after a restart holds a certificate of %v, want the new CA", id, got.Subject)
		}
		t.Logf("%d of 3 nodes moved: the cluster replicates", i+1)
	}
}
