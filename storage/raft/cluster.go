package raft

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	hraft "github.com/hashicorp/raft"
)

// What a node needs to be one of several: its cluster identity (kept in
// its directory so that it can rejoin after a restart), membership, the
// leader's whereabouts and how far it has applied the log.

// identityFile holds the node's cluster certificate, its key and the
// cluster CA's certificate (never the CA's key, which lives only in the
// barrier), mode 0600 beside the log.
const identityFile = "node-tls.json"

type storedIdentity struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
	CA   string `json:"ca"`
	// Prev is the identity this one replaced after a restore moved the
	// node to another cluster CA (tls_move.go), kept across restarts.
	Prev *storedIdentity `json:"prev,omitempty"`
}

// ErrHasState: the node already belongs to a cluster (or started one),
// so it cannot join another.
var ErrHasState = errors.New("raft storage: this node already has raft state; it cannot join another cluster")

// SetIdentity gives the node its cluster certificate (DER, signed by
// ca) and key: used for every connection from now on and kept in the
// node's directory for restarts.
func (n *Node) SetIdentity(certDER []byte, key crypto.Signer, ca *x509.Certificate) error {
	leaf, err := x509.ParseCertificate(certDER)
	if err != nil {
		return err
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		return fmt.Errorf("raft storage: the node certificate is not from the cluster CA: %w", err)
	}
	id := moved(newIdentity(tls.Certificate{Certificate: [][]byte{certDER}, PrivateKey: key, Leaf: leaf}, ca), n.stream.id.Load())
	st, err := storeIdentity(id)
	if err != nil {
		return err
	}
	if id.prev != nil {
		if st.Prev, err = storeIdentity(id.prev); err != nil {
			return err
		}
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := filepath.Join(n.dir, identityFile+".tmp")
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(n.dir, identityFile)); err != nil {
		return err
	}
	n.stream.setIdentity(id)
	return nil
}

func storeIdentity(id *identity) (*storedIdentity, error) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(id.cert.PrivateKey)
	if err != nil {
		return nil, err
	}
	return &storedIdentity{
		Cert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id.cert.Certificate[0]})),
		Key:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})),
		CA:   string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id.ca.Raw})),
	}, nil
}

// IdentityCA is the cluster CA the node's certificate comes from; nil
// while the node has only the certificate of a CA of its own process.
func (n *Node) IdentityCA() *x509.Certificate { return n.stream.id.Load().ca }

// loadIdentity reads the identity kept in dir, or returns nil.
func loadIdentity(dir string) (*identity, error) {
	raw, err := os.ReadFile(filepath.Join(dir, identityFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st storedIdentity
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("raft storage: %s: %w", identityFile, err)
	}
	id, err := st.identity()
	if err != nil || st.Prev == nil {
		return id, err
	}
	prev, err := st.Prev.identity()
	if err != nil {
		return nil, err
	}
	return moved(id, prev), nil
}

func (st *storedIdentity) identity() (*identity, error) {
	cert, err := tls.X509KeyPair([]byte(st.Cert), []byte(st.Key))
	if err != nil {
		return nil, fmt.Errorf("raft storage: %s: %w", identityFile, err)
	}
	b, _ := pem.Decode([]byte(st.CA))
	if b == nil {
		return nil, fmt.Errorf("raft storage: %s: no CA certificate", identityFile)
	}
	ca, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("raft storage: %s: %w", identityFile, err)
	}
	return newIdentity(cert, ca), nil
}

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
