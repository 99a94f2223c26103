// Package raft is integrated storage for a cluster: every write is a
// command in a Raft log (hashicorp/raft) that a quorum of nodes has
// stored before it is acknowledged, and every node applies the committed
// log to its own copy of the data, which it reads locally. The entries
// are barrier ciphertexts; nothing here sees a plaintext.
//
// This is the storage layer only: writes are accepted on the leader
// (ErrNotLeader elsewhere), and a node learns of writes it did not make
// through Config.Applied. Forwarding, the cluster port's mutual TLS and
// joining through the API belong to the layers above.
package raft

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/arca-secrets/arca/storage"
)

// ErrNotLeader: a write reached a node that is not the leader.
var ErrNotLeader = errors.New("raft storage: this node is not the leader")

// Config is what a node is built from.
type Config struct {
	// Dir holds the node's log, stable state and snapshots.
	Dir string
	// NodeID names the node in the cluster; unique, stable.
	NodeID string
	// BindAddr is the host:port the node's Raft transport listens on, and
	// the address other nodes reach it at unless AdvertiseAddr is set.
	BindAddr string
	// AdvertiseAddr is the host:port other nodes reach this one at, when
	// not BindAddr.
	AdvertiseAddr string
	// Applied is called with the keys of every committed write this node
	// applies (nil keys: a snapshot replaced everything), after they are
	// visible to reads, except the writes it made itself as leader:
	// core's Invalidate hangs here.
	Applied func(keys []string)
	// ApplyTimeout bounds how long a write waits for a quorum; 10s when
	// zero.
	ApplyTimeout time.Duration
	// TLS is the cluster's mutual TLS for the Raft port: a certificate
	// for this node and the cluster CA (ClusterTLS makes one). Nil: a CA
	// of this process alone, so that no other process can take part —
	// what a cluster of one needs.
	TLS *tls.Config
	// TimeoutScale multiplies Raft's timeouts (performance_multiplier);
	// 1 when zero.
	TimeoutScale int
	// Logger receives Raft's messages; discarded when nil.
	Logger *slog.Logger
	// tune shortens Raft's timers (tests).
	tune func(*hraft.Config)
}

// Node is one Raft node and the storage backend over it.
type Node struct {
	raft      *hraft.Raft
	fsm       *fsm
	transport *hraft.NetworkTransport
	stream    *tlsStream
	logs      logStore
	dir       string
	timeout   time.Duration
	id        string
	// stopRecord ends recordApplied, which closes recorded.
	stopRecord chan struct{}
	recorded   chan struct{}
}

var (
	_ storage.Backend = (*Node)(nil)
	_ storage.Batcher = (*Node)(nil)
)

// Open starts a node from cfg.Dir (creating it). A new node is not part
// of any cluster until Bootstrap or a leader's AddVoter.
func Open(cfg Config) (*Node, error) {
	if cfg.NodeID == "" || cfg.Dir == "" || cfg.BindAddr == "" {
		return nil, errors.New("raft storage: node_id, path and an address are required")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	rc := hraft.DefaultConfig()
	rc.LocalID = hraft.ServerID(cfg.NodeID)
	rc.Logger = newLogger(cfg.Logger)
	// Shorter than Raft's defaults (1s), so that a new leader is elected
	// well within two seconds of the old one's death (a follower stands
	// after 300-600ms of silence); loopback and LAN round trips are far
	// below these.
	scale := time.Duration(max(cfg.TimeoutScale, 1))
	rc.HeartbeatTimeout = scale * 300 * time.Millisecond
	rc.ElectionTimeout = scale * 300 * time.Millisecond
	rc.LeaderLeaseTimeout = scale * 200 * time.Millisecond
	// Writes that arrive together go into the log together: one append
	// (one fsync on each node) for up to MaxAppendEntries of them.
	rc.BatchApplyCh = true
	// recover restores the newest snapshot itself, and more (recover.go).
	rc.NoSnapshotRestoreOnStart = true
	if cfg.tune != nil {
		cfg.tune(rc)
	}
	logs, cached, err := openLogStore(cfg.Dir, rc.Logger)
	if err != nil {
		return nil, err
	}
	snaps, err := hraft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, rc.Logger)
	if err != nil {
		logs.Close()
		return nil, err
	}
	id, err := openIdentity(cfg)
	if err != nil {
		logs.Close()
		return nil, err
	}
	stream, err := newTLSStream(cfg.BindAddr, cfg.AdvertiseAddr, id)
	if err != nil {
		logs.Close()
		return nil, err
	}
	transport := hraft.NewNetworkTransportWithLogger(stream, 3, 10*time.Second, rc.Logger)
	f := newFSM(cfg.Applied)
	if _, err := f.recover(cfg.Dir, snaps, logs); err != nil {
		transport.Close()
		logs.Close()
		return nil, fmt.Errorf("raft storage: recovering this node's state: %w", err)
	}
	r, err := hraft.NewRaft(rc, f, cached, logs, snaps, transport)
	if err != nil {
		transport.Close()
		logs.Close()
		return nil, err
	}
	timeout := cfg.ApplyTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	n := &Node{raft: r, fsm: f, transport: transport, stream: stream, logs: logs, timeout: timeout, id: cfg.NodeID, dir: cfg.Dir,
		stopRecord: make(chan struct{}), recorded: make(chan struct{})}
	go n.recordApplied(n.stopRecord, n.recorded)
	// Entries of an earlier term, which a new leader applies after its
	// election, were written by another node (or this one before a
	// restart): they are announced like a follower's.
	own := func(term uint64) bool { return r.State() == hraft.Leader && term == r.CurrentTerm() }
	f.own.Store(&own)
	if c := r.GetConfiguration(); c.Error() == nil {
		f.members.Store(membersOf(c.Configuration()))
	}
	member := n.member
	stream.member.Store(&member)
	return n, nil
}

// openIdentity is the node's cluster identity until it is given one of
// the cluster CA (SetIdentity, once joined or unsealed): cfg.TLS, else a
// certificate of a CA of this process alone, which no other process
// trusts.
func openIdentity(cfg Config) (*identity, error) {
	if err := removeOldIdentity(cfg.Dir); err != nil {
		return nil, err
	}
	conf := cfg.TLS
	if conf == nil {
		host, _, err := net.SplitHostPort(cfg.BindAddr)
		if err != nil {
			return nil, err
		}
		if conf, err = ClusterTLS(host); err != nil {
			return nil, err
		}
	}
	if len(conf.Certificates) == 0 || conf.RootCAs == nil {
		return nil, errors.New("raft storage: the cluster TLS configuration needs a certificate and the cluster CA")
	}
	return &identity{cert: conf.Certificates[0], pool: conf.RootCAs}, nil
}

// Bootstrap makes a new cluster of this node alone (or of the given
// peers, id → address). It fails on a node that has state already.
func (n *Node) Bootstrap(peers map[string]string) error {
	servers := []hraft.Server{{ID: hraft.ServerID(n.id), Address: n.transport.LocalAddr()}}
	for id, addr := range peers {
		if id != n.id {
			servers = append(servers, hraft.Server{ID: hraft.ServerID(id), Address: hraft.ServerAddress(addr)})
		}
	}
	return n.raft.BootstrapCluster(hraft.Configuration{Servers: servers}).Error()
}

// BootstrapIfNew starts a cluster of this node alone unless the node has
// state already (a restart, or a node that joined a cluster).
func (n *Node) BootstrapIfNew() error {
	err := n.Bootstrap(nil)
	if errors.Is(err, hraft.ErrCantBootstrap) {
		return nil
	}
	return err
}

// AddVoter adds a node to the cluster; only the leader can.
func (n *Node) AddVoter(id, addr string) error {
	return n.leaderOnly(n.raft.AddVoter(hraft.ServerID(id), hraft.ServerAddress(addr), 0, n.timeout).Error())
}

// AddNonvoter adds a node that replicates but does not vote; only the
// leader can.
func (n *Node) AddNonvoter(id, addr string) error {
	return n.leaderOnly(n.raft.AddNonvoter(hraft.ServerID(id), hraft.ServerAddress(addr), 0, n.timeout).Error())
}

// RemoveServer takes a node out of the cluster; only the leader can.
func (n *Node) RemoveServer(id string) error {
	return n.leaderOnly(n.raft.RemoveServer(hraft.ServerID(id), 0, n.timeout).Error())
}

// Peer is a member of the cluster.
type Peer struct {
	ID, Address string
	Leader      bool
	Voter       bool
}

// Peers lists the cluster's members as this node knows them.
func (n *Node) Peers() ([]Peer, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	_, leader := n.raft.LeaderWithID()
	var out []Peer
	for _, s := range f.Configuration().Servers {
		out = append(out, Peer{ID: string(s.ID), Address: string(s.Address), Leader: s.ID == leader, Voter: s.Suffrage == hraft.Voter})
	}
	return out, nil
}

// IsLeader reports whether this node leads.
func (n *Node) IsLeader() bool { return n.raft.State() == hraft.Leader }

// LeaderCh delivers true when this node becomes leader and false when it
// stops: where the active state starts and stops.
func (n *Node) LeaderCh() <-chan bool { return n.raft.LeaderCh() }

// VerifyLeader confirms with a quorum that this node still leads: a
// read that must be linearizable asks this before it is answered.
func (n *Node) VerifyLeader() error { return n.leaderOnly(n.raft.VerifyLeader().Error()) }

// Barrier waits until this node, as leader, has applied every entry
// committed before it: a new leader calls it before it serves as the
// active node, or it could read a state older than what was
// acknowledged.
func (n *Node) Barrier() error { return n.leaderOnly(n.raft.Barrier(n.timeout).Error()) }

// AppliedIndex is the index of the last log entry applied here (the
// basis for read-your-writes).
func (n *Node) AppliedIndex() uint64 { return n.fsm.index.Load() }

// Snapshot takes a snapshot now (compaction runs on its own as well).
func (n *Node) Snapshot() error { return n.raft.Snapshot().Error() }

// Close stops the node.
func (n *Node) Close() error {
	err := n.raft.Shutdown().Error()
	close(n.stopRecord)
	<-n.recorded
	n.transport.Close()
	return errors.Join(err, n.logs.Close())
}

// Get reads this node's applied copy.
func (n *Node) Get(ctx context.Context, key string) (*storage.Entry, error) {
	return n.fsm.backend().Get(ctx, key)
}

// List reads this node's applied copy.
func (n *Node) List(ctx context.Context, prefix string) ([]string, error) {
	return n.fsm.backend().List(ctx, prefix)
}

// Put replicates one entry.
func (n *Node) Put(ctx context.Context, e *storage.Entry) error {
	if !storage.ValidKey(e.Key) {
		return storage.ErrInvalidKey
	}
	return n.apply(command{Puts: []*storage.Entry{e}})
}

// Delete replicates a deletion.
func (n *Node) Delete(ctx context.Context, key string) error {
	if !storage.ValidKey(key) {
		return storage.ErrInvalidKey
	}
	return n.apply(command{Deletes: []string{key}})
}

// WriteAll replicates puts and deletes as one command: applied together
// on every node or not at all.
func (n *Node) WriteAll(ctx context.Context, puts []*storage.Entry, deletes []string) error {
	for _, e := range puts {
		if !storage.ValidKey(e.Key) {
			return storage.ErrInvalidKey
		}
	}
	for _, k := range deletes {
		if !storage.ValidKey(k) {
			return storage.ErrInvalidKey
		}
	}
	if len(puts)+len(deletes) == 0 {
		return nil
	}
	return n.apply(command{Puts: puts, Deletes: deletes})
}

func (n *Node) apply(c command) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	f := n.raft.Apply(raw, n.timeout)
	if err := f.Error(); err != nil {
		return n.leaderOnly(err)
	}
	if err, ok := f.Response().(error); ok && err != nil {
		return err
	}
	return nil
}

// leaderOnly turns Raft's "not the leader" into ErrNotLeader; so is a
// leader handing the lead over (step-down), which takes no writes.
func (n *Node) leaderOnly(err error) error {
	if errors.Is(err, hraft.ErrNotLeader) || errors.Is(err, hraft.ErrLeadershipLost) || errors.Is(err, hraft.ErrLeadershipTransferInProgress) {
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	}
	return err
}
