package assemble

import (
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/arca-secrets/arca/internal/config"
	"github.com/arca-secrets/arca/server"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/raft"
)

// raftLeaderWait bounds how long a new single node waits to elect itself
// before serving.
const raftLeaderWait = 30 * time.Second

// openRaft starts this node's raft storage on cluster_addr's port. A node
// with no state yet starts a cluster of its own; joining others is not
// offered yet. applied hears of the writes the node applies while it is
// not the leader (the leader's own writes went through its core).
func openRaft(conf *config.Config, applied func(keys []string)) (storage.Backend, func() error, error) {
	u, err := url.Parse(conf.ClusterAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster_addr: %w", err)
	}
	var self atomic.Pointer[raft.Node]
	n, err := raft.Open(raft.Config{
		Dir: conf.Storage.Path, NodeID: conf.Storage.NodeID, BindAddr: u.Host,
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
	if err := n.BootstrapIfNew(); err != nil {
		_ = n.Close()
		return nil, nil, fmt.Errorf("starting a new raft cluster: %w", err)
	}
	deadline := time.Now().Add(raftLeaderWait)
	for !n.IsLeader() {
		if time.Now().After(deadline) {
			_ = n.Close()
			return nil, nil, fmt.Errorf("raft node %s did not become leader within %s", conf.Storage.NodeID, raftLeaderWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := n.Barrier(); err != nil {
		_ = n.Close()
		return nil, nil, err
	}
	return n, n.Close, nil
}

// RaftAdmin is the raft node behind backend, for sys/storage/raft/*, or
// nil when the storage is not raft.
func RaftAdmin(backend storage.Backend) server.RaftStorage {
	if n, ok := backend.(*raft.Node); ok {
		return n
	}
	return nil
}
