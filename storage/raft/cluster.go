package raft

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	hraft "github.com/hashicorp/raft"
)

// What a node needs to be one of several: its cluster identity (held in
// memory only, see recover.go), membership, the leader's whereabouts and
// how far it has applied the log.

// ErrHasState: the node already belongs to a cluster (or started one),
// so it cannot join another.
var ErrHasState = errors.New("raft storage: this node already has raft state; it cannot join another cluster")

// SetIdentity gives the node its cluster certificate (DER, signed by
// ca) and key, used for every connection from now on. They are kept in
// memory only: a restarted node is given new ones once unsealed.
func (n *Node) SetIdentity(certDER []byte, key crypto.Signer, ca *x509.Certificate) error {
	leaf, err := x509.ParseCertificate(certDER)
	if err != nil {
		return err
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		return fmt.Errorf("raft storage: the node certificate is not from the cluster CA: %w", err)
	}
	n.stream.setIdentity(moved(newIdentity(tls.Certificate{Certificate: [][]byte{certDER}, PrivateKey: key, Leaf: leaf}, ca), n.stream.id.Load()))
	return nil
}

// IdentityCA is the cluster CA the node's certificate comes from; nil
// while the node has only the certificate of a CA of its own process.
func (n *Node) IdentityCA() *x509.Certificate { return n.stream.id.Load().ca }

// HasState reports whether the node belongs to a cluster already: it
// was bootstrapped, joined, or restarted with a log.
func (n *Node) HasState() bool {
	f := n.raft.GetConfiguration()
	return f.Error() == nil && len(f.Configuration().Servers) > 0
}

// EnsureCluster starts a cluster of this node alone if it belongs to
// none, and waits until it leads it: what init needs on a first node.
func (n *Node) EnsureCluster(ctx context.Context) error {
	if !n.HasState() {
		if err := n.BootstrapIfNew(); err != nil {
			return err
		}
	}
	for !n.IsLeader() {
		if _, id := n.raft.LeaderWithID(); id != "" {
			return nil // another node leads: the cluster exists
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("raft storage: no leader elected: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return n.Barrier()
}

// Leader is the leader's server id and Raft address (its cluster
// address), both empty when no leader is known.
func (n *Node) Leader() (id, addr string) {
	a, i := n.raft.LeaderWithID()
	return string(i), string(a)
}

// NodeID is this node's server id.
func (n *Node) NodeID() string { return n.id }

// TransferLeadership asks another voter to take over (a sealed leader
// cannot serve).
func (n *Node) TransferLeadership() error { return n.raft.LeadershipTransfer().Error() }

// CommitIndex is the index of the last entry this node knows committed.
func (n *Node) CommitIndex() uint64 {
	s := n.raft.Stats()
	var i uint64
	_, _ = fmt.Sscan(s["commit_index"], &i)
	return i
}

// WaitApplied waits until this node has applied index, or ctx ends.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	for {
		ch := n.fsm.changed()
		if n.fsm.index.Load() >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// DialForward opens a connection to the forwarding listener of the node
// at addr (a cluster address), over the cluster's mutual TLS.
func (n *Node) DialForward(ctx context.Context, addr string) (net.Conn, error) {
	return n.stream.dial(ctx, addr, protoForward)
}

// ForwardListener yields the connections other nodes open to forward
// requests to this one; each has passed the cluster's mutual TLS and
// membership check.
func (n *Node) ForwardListener() net.Listener { return n.stream.fwd }

// member reports whether id is in the cluster's configuration; with
// none known (a new node, before it joins), any holder of a cluster
// certificate may talk to it.
func (n *Node) member(id string) bool {
	ids := n.fsm.members.Load()
	if ids == nil || len(*ids) == 0 {
		return true
	}
	_, ok := (*ids)[id]
	return ok
}

func membersOf(c hraft.Configuration) *map[string]struct{} {
	m := make(map[string]struct{}, len(c.Servers))
	for _, s := range c.Servers {
		m[string(s.ID)] = struct{}{}
	}
	return &m
}
