// Package cluster makes Raft nodes one highly available service: the
// Raft leader, once unsealed, is the active node (leader-only work runs
// there alone) and steps down when it loses the lead; a new node joins
// by proving it holds the unseal keys (a challenge sealed under the
// barrier keyring) and receives a certificate of the one cluster CA,
// kept in the barrier; standbys forward what they cannot serve to the
// active node over the cluster port, serve reads from their applied
// state, and honour read-your-writes (X-Vault-Index).
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/secmem"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/raft"
)

// Config is what a Node is built from.
type Config struct {
	Core *core.Core
	Raft *raft.Node
	// Seal opens the root key with a joiner's shares (join.go).
	Seal seal.Seal
	// Memory is how the joiner keeps shares.
	Memory secmem.Mode
	// APIAddr and ClusterAddr are this node's addresses as others reach
	// them (api_addr, cluster_addr).
	APIAddr, ClusterAddr string
	Logger               *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Node is one node's part in the cluster.
type Node struct {
	core        *core.Core
	raft        *raft.Node
	seal        seal.Seal
	memory      secmem.Mode
	apiAddr     string
	clusterAddr string
	log         *slog.Logger
	now         func() time.Time

	// reconcileMu: one reconciliation at a time (the watcher's, or a
	// request's that found the leader not yet active).
	reconcileMu sync.Mutex
	mu          sync.Mutex
	activeTime  time.Time // when this node last became active
	lastXfer    time.Time // when a sealed leader last handed the lead on

	challenges challenges // join challenges this active node gave out
	join       joinState  // this node's own join, while it joins
	forward    *forwarder
}

// New returns the node; Run makes it take part.
func New(cfg Config) *Node {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	n := &Node{
		core: cfg.Core, raft: cfg.Raft, seal: cfg.Seal, memory: cfg.Memory,
		apiAddr: cfg.APIAddr, clusterAddr: cfg.ClusterAddr, log: log, now: now,
	}
	n.challenges.entries = map[string]challenge{}
	n.forward = newForwarder(cfg.Raft, log)
	return n
}

// pollEvery bounds how long a change of leader or of seal state goes
// unnoticed when no leadership event announces it.
const pollEvery = 50 * time.Millisecond

// Run keeps the node's role in line with Raft until ctx ends: the
// unsealed leader is active, anyone else a standby; a sealed leader
// hands the lead on, since it can serve nothing.
func (n *Node) Run(ctx context.Context) {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	leaderCh := n.raft.LeaderCh()
	for {
		n.reconcile(ctx)
		select {
		case <-ctx.Done():
			return
		case <-leaderCh:
		case <-t.C:
		}
	}
}

func (n *Node) reconcile(ctx context.Context) {
	n.reconcileMu.Lock()
	defer n.reconcileMu.Unlock()
	sealed, leader := n.core.Sealed(), n.raft.IsLeader()
	if sealed {
		if leader {
			n.handOn()
		}
		return
	}
	n.ensureIdentity(ctx)
	active := n.core.Active()
	switch {
	case leader && !active:
		// Everything committed before the lead was won must be applied
		// here before this node answers as the active one.
		if err := n.raft.Barrier(); err != nil {
			return
		}
		if err := n.core.SetActive(true); err != nil {
			return
		}
		n.mu.Lock()
		n.activeTime = n.now()
		n.mu.Unlock()
		if err := n.advertise(ctx); err != nil {
			n.log.Warn("recording this node as the active node", "error", err)
		}
	case !leader && active:
		_ = n.core.SetActive(false)
	}
}

// handOn: a sealed leader asks another voter to lead, at most once a
// second (a cluster of one has nobody to hand on to).
func (n *Node) handOn() {
	n.mu.Lock()
	if n.now().Sub(n.lastXfer) < time.Second {
		n.mu.Unlock()
		return
	}
	n.lastXfer = n.now()
	n.mu.Unlock()
	peers, err := n.raft.Peers()
	if err != nil || len(peers) < 2 {
		return
	}
	if err := n.raft.TransferLeadership(); err != nil {
		n.log.Debug("a sealed leader could not hand on the lead", "error", err)
	}
}

// ensureIdentity gives an unsealed node a certificate of the cluster CA
// in the barrier if it has none yet (the first node, whose first
// certificate came from a CA of its own process; or a node restored
// from another cluster's snapshot). The active node makes the CA if the
// cluster has none.
func (n *Node) ensureIdentity(ctx context.Context) {
	st, err := n.core.ClusterStorage()
	if err != nil {
		return
	}
	var ca *raft.CA
	if n.core.Active() {
		ca, err = ensureCA(ctx, st)
	} else {
		ca, err = readCA(ctx, st)
	}
	if err != nil {
		if !errors.Is(err, errNoCA) {
			n.log.Warn("reading the cluster CA", "error", err)
		}
		return
	}
	if cur := n.raft.IdentityCA(); cur != nil && cur.Equal(ca.Cert) {
		return
	}
	if err := issueSelf(n.raft, ca, n.clusterAddr); err != nil {
		n.log.Warn("issuing this node's cluster certificate", "error", err)
		return
	}
	n.log.Info("this node now holds a certificate of the cluster CA")
}

// advert is the active node's entry under sys/cluster/: where standbys
// and clients find it.
type advert struct {
	NodeID      string    `json:"node_id"`
	APIAddr     string    `json:"api_addr"`
	ClusterAddr string    `json:"cluster_addr"`
	Since       time.Time `json:"since"`
}

const advertKey = "active"

func (n *Node) advertise(ctx context.Context) error {
	st, err := n.core.ClusterStorage()
	if err != nil {
		return err
	}
	n.mu.Lock()
	a := advert{NodeID: n.raft.NodeID(), APIAddr: n.apiAddr, ClusterAddr: n.clusterAddr, Since: n.activeTime.UTC()}
	n.mu.Unlock()
	raw, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return st.Put(ctx, &storage.Entry{Key: advertKey, Value: raw})
}

// activeAdvert is the active node's entry as this node has applied it.
func (n *Node) activeAdvert(ctx context.Context) (*advert, error) {
	st, err := n.core.ClusterStorage()
	if err != nil {
		return nil, err
	}
	e, err := st.Get(ctx, advertKey)
	if err != nil || e == nil {
		return nil, err
	}
	var a advert
	if err := json.Unmarshal(e.Value, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// Status is who is active, as sys/leader and sys/ha-status tell it.
type Status struct {
	IsSelf            bool
	ActiveTime        time.Time
	LeaderAddress     string // the active node's api_addr
	LeaderClusterAddr string
	LeaderID          string
	CommitIndex       uint64
	AppliedIndex      uint64
	Peers             []raft.Peer
}

// Status reports this node's view of the cluster.
func (n *Node) Status(ctx context.Context) Status {
	st := Status{IsSelf: n.core.Active(), CommitIndex: n.raft.CommitIndex(), AppliedIndex: n.raft.AppliedIndex()}
	st.LeaderID, _ = n.raft.Leader()
	st.Peers, _ = n.raft.Peers()
	if a, err := n.activeAdvert(ctx); err == nil && a != nil && a.NodeID == st.LeaderID {
		st.LeaderAddress, st.LeaderClusterAddr, st.ActiveTime = a.APIAddr, a.ClusterAddr, a.Since
	}
	return st
}
