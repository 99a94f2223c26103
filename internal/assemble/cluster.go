package assemble

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/arca-secrets/arca/cluster"
	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/internal/config"
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/secmem"
	"github.com/arca-secrets/arca/server"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/raft"
)

// StartCluster makes a raft node part of a cluster: it runs the role
// watcher (the unsealed leader is active) and, for a new node with
// retry_join, asks the listed nodes to let it join. Nil for other
// storage.
func StartCluster(ctx context.Context, conf *config.Config, c *core.Core, backend storage.Backend, sl seal.Seal, mode secmem.Mode, log *slog.Logger) (*cluster.Node, error) {
	rn := RaftNode(backend)
	if rn == nil {
		return nil, nil
	}
	apiAddr := conf.APIAddr
	if apiAddr == "" && len(conf.Listeners) > 0 {
		scheme := "https"
		if conf.Listeners[0].TLSDisable {
			scheme = "http"
		}
		apiAddr = scheme + "://" + conf.Listeners[0].Address
	}
	node := cluster.New(cluster.Config{
		Core: c, Raft: rn, Seal: sl, Memory: mode, APIAddr: apiAddr, ClusterAddr: conf.ClusterAddr, Logger: log,
	})
	go node.Run(ctx)
	if len(conf.Storage.RetryJoin) > 0 && !rn.HasState() {
		leaders, err := retryJoinLeaders(conf.Storage.RetryJoin)
		if err != nil {
			return nil, err
		}
		go node.RetryJoin(ctx, leaders, false)
	}
	return node, nil
}

func retryJoinLeaders(rjs []config.RetryJoin) ([]cluster.Leader, error) {
	read := func(path string) ([]byte, error) {
		if path == "" {
			return nil, nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("retry_join: %w", err)
		}
		return b, nil
	}
	var out []cluster.Leader
	for _, rj := range rjs {
		l := cluster.Leader{APIAddr: rj.LeaderAPIAddr}
		var err error
		if l.CACert, err = read(rj.LeaderCACertFile); err != nil {
			return nil, err
		}
		if l.ClientCert, err = read(rj.LeaderClientCertFile); err != nil {
			return nil, err
		}
		if l.ClientKey, err = read(rj.LeaderClientKeyFile); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// ServeForwarded answers, on the cluster port, the requests standbys
// forward to this node when it is active.
func ServeForwarded(ctx context.Context, srv *server.Server, rn *raft.Node, log *slog.Logger) {
	hs := &http.Server{Handler: srv.ForwardHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	go func() {
		<-ctx.Done()
		_ = hs.Close()
	}()
	if err := hs.Serve(rn.ForwardListener()); err != nil && ctx.Err() == nil {
		log.Error("serving forwarded requests", "error", err)
	}
}
