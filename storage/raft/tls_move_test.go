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

// restart closes node id and opens it again from its directory, then
// gives it a certificate of ca, as its unseal does (a node keeps none on
// disk): every connection to and from it is made anew.
func (c *cluster) restart(t *testing.T, id string, ca *CA) {
	t.Helper()
	// A leader's shutdown may report a write it was committing (the
	// write's own caller saw it fail and retries): not this test's
	// concern.
	_ = c.nodes[id].Close()
	c.nodes[id] = openNodeTLS(t, c.dirs[id], id, c.addrs[id], c.logs[id], nil)
	if c.nodes[id].IdentityCA() != nil {
		t.Fatalf("%s holds a cluster certificate after a restart, before it is given one", id)
	}
	c.moveTo(t, id, ca)
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
// with the unmoved nodes restarted (every connection to them made anew),
// moved and unmoved nodes still replicate to each other. Once all have
// moved, restarted, they talk with the new CA alone.
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
	ids := []string{"n1", "n2", "n3"}
	for _, id := range ids {
		c.moveTo(t, id, caB)
	}
	for _, id := range ids {
		c.restart(t, id, caB)
	}
	c.replicates(t, "on-b")
	for i, id := range ids {
		c.moveTo(t, id, caA)
		if prev := c.nodes[id].stream.id.Load().prev; prev == nil || !prev.ca.Equal(caB.Cert) {
			t.Fatalf("%s moved to the new CA without keeping the old certificate", id)
		}
		for _, r := range ids[i+1:] {
			c.restart(t, r, caB)
		}
		c.replicates(t, "moved-"+id)
		t.Logf("%d of 3 nodes moved: the cluster replicates", i+1)
	}
	for _, id := range ids {
		c.restart(t, id, caA)
		if prev := c.nodes[id].stream.id.Load().prev; prev != nil {
			t.Fatalf("%s keeps the old CA's certificate after a restart", id)
		}
	}
	c.replicates(t, "all-on-a")
}
