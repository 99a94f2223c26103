package assemble

import (
	"context"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/arca-secrets/arca/core/sealconf"
	"github.com/arca-secrets/arca/internal/config"
	"github.com/arca-secrets/arca/server"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/raft"
)

// raftCatchUpWait bounds how long a restarting node waits, before it
// serves, to hear from a leader and apply what was committed: enough for
// seal-status and unseal to see the data. A node whose cluster has no
// quorum yet starts anyway (it may be the one the quorum needs).
const raftCatchUpWait = 15 * time.Second

// openRaft starts this node's raft storage on cluster_addr's port. A new
// node belongs to no cluster: it starts one of its own at init, or
// joins one (retry_join, sys/storage/raft/join). applied hears of the
// writes the node applies while it is not the leader (the leader's own
// writes went through its core).
func openRaft(conf *config.Config, applied func(keys []string)) (storage.Backend, func() error, error) {
	u, err := url.Parse(conf.ClusterAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster_addr: %w", err)
	}
	var self atomic.Pointer[raft.Node]
	bind := u.Host
	if len(conf.Listeners) > 0 && conf.Listeners[0].ClusterAddress != "" {
		bind = conf.Listeners[0].ClusterAddress
	}
	n, err := raft.Open(raft.Config{
		Dir: conf.Storage.Path, NodeID: conf.Storage.NodeID, BindAddr: bind, AdvertiseAddr: u.Host,
		TimeoutScale: conf.Storage.PerformanceMultiplier,
		Applied: func(keys []string) {
			if n := self.Load(); n != nil && !n.IsLeader() {
				applied(keys)
			}
		},
	})
	if err != nil {
		return nil, nil, err
	}
	self.Store(n)
	if n.HasState() {
		ctx, cancel := context.WithTimeout(context.Background(), raftCatchUpWait)
		defer cancel()
		for {
			// Caught up enough to unseal: a leader is known, the seal
			// configuration is applied, and so is everything the node
			// knows committed.
			if id, _ := n.Leader(); id != "" {
				if e, err := n.Get(ctx, sealconf.Path); err == nil && e != nil {
					if err := n.WaitApplied(ctx, n.CommitIndex()); err == nil {
						break
					}
				}
			}
			if ctx.Err() != nil {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return n, n.Close, nil
}

// RaftNode is the raft node behind backend, or nil when the storage is
// not raft.
func RaftNode(backend storage.Backend) *raft.Node {
	n, _ := backend.(*raft.Node)
	return n
}

// RaftAdmin is the raft node behind backend, for sys/storage/raft/*, or
// nil when the storage is not raft.
func RaftAdmin(backend storage.Backend) server.RaftStorage {
	if n, ok := backend.(*raft.Node); ok {
		return n
	}
	return nil
}
