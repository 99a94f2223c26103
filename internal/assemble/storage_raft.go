package assemble

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/arca-secrets/arca/core/sealconf"
	"github.com/arca-secrets/arca/internal/config"
	"github.com/arca-secrets/arca/server"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/raft"
)

// openRaft starts this node's raft storage on cluster_addr's port. A new
// node belongs to no cluster: it starts one of its own at init, or
// joins one (retry_join, sys/storage/raft/join). A restarted one has its
// state from its own disk, enough to be unsealed, and takes part in the
// cluster once it is (storage/raft/recover.go). applied hears of the
// writes the node applies while it is not the leader (the leader's own
// writes went through its core).
func openRaft(conf *config.Config, applied func(keys []string)) (storage.Backend, func() error, error) {
	u, err := url.Parse(conf.ClusterAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster_addr: %w", err)
	}
	bind := u.Host
	if len(conf.Listeners) > 0 && conf.Listeners[0].ClusterAddress != "" {
		bind = conf.Listeners[0].ClusterAddress
	}
	n, err := raft.Open(raft.Config{
		Dir: conf.Storage.Path, NodeID: conf.Storage.NodeID, BindAddr: bind, AdvertiseAddr: u.Host,
		TimeoutScale: conf.Storage.PerformanceMultiplier,
		Applied:      applied,
	})
	if err != nil {
		return nil, nil, err
	}
	if n.HasState() {
		awaitSealConfig(n)
	}
	return n, n.Close, nil
}

// sealConfigWait bounds how long a restarted node whose own disk lacks
// even the seal configuration (it stopped within moments of its init)
// waits for it before it serves: a cluster of one applies its log again
// once it has elected itself.
const sealConfigWait = 15 * time.Second

func awaitSealConfig(n *raft.Node) {
	ctx, cancel := context.WithTimeout(context.Background(), sealConfigWait)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if e, err := n.Get(ctx, sealconf.Path); err != nil || e != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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
