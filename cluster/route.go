package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"

	"github.com/arca-secrets/arca/internal/vaultindex"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage/raft"
)

// Placement says where a node serves a request.
type Placement int

const (
	// Local: this node answers (it is active, or sealed, or the request
	// is about this node itself).
	Local Placement = iota
	// TryLocal: a standby answers from its applied state, unless
	// answering would write (raft.ErrNotLeader), in which case the
	// request is forwarded after all.
	TryLocal
	// Forward: the active node answers; the standby passes the request
	// on and the client sees the active node's answer.
	Forward
	// Refuse: a request forwarded to this node, which is not active (a
	// standby never forwards a forwarded request: no loops).
	Refuse
)

// localSys are the sys/ routes every node answers for itself.
var localSys = map[string]bool{
	"health": true, "seal-status": true, "leader": true, "ha-status": true,
	"unseal": true, "init": true, "seal": true, "storage/raft/join": true, "metrics": true,
}

// tokenLookups are the token paths a standby serves (they only read).
var tokenLookups = map[string]bool{"lookup": true, "lookup-self": true, "lookup-accessor": true}

// transitReads are the transit paths (below the mount) that compute
// without writing, as long as the key exists.
var transitReads = []string{"encrypt/", "decrypt/", "rewrap/", "hmac/", "sign/", "verify/", "hash", "random", "datakey/"}

// Place decides where the request for the canonical path is served.
// forwarded says it came from a standby over the cluster port.
func (n *Node) Place(ctx context.Context, op logical.Operation, path string, forwarded bool) Placement {
	if n.core.Sealed() {
		return Local
	}
	if n.core.Active() {
		return Local
	}
	if n.raft.IsLeader() {
		// Unsealed and leading, but the watcher has not made it active
		// yet (just unsealed, or just elected): do it now rather than
		// forward to itself.
		n.reconcile(ctx)
		if n.core.Active() {
			return Local
		}
	}
	if sub, ok := strings.CutPrefix(path, "sys/"); ok && localSys[strings.TrimSuffix(sub, "/")] {
		return Local
	}
	if forwarded {
		return Refuse
	}
	// A node that has heard from no leader since it started (just
	// unsealed, or cut off) may be far behind: it serves nothing from its
	// own state, and Forward waits for a leader.
	if id, _ := n.raft.Leader(); id == "" {
		return Forward
	}
	if readsOnly(ctx, n, op, path) {
		return TryLocal
	}
	return Forward
}

// readsOnly reports whether a standby can serve op on path from its own
// state: reads of engines that keep all they serve in storage and have
// no side effect elsewhere. An engine that makes something outside Arca
// on a read (database credentials) is never tried locally, since a
// failed local attempt could not take that back.
func readsOnly(ctx context.Context, n *Node, op logical.Operation, path string) bool {
	if strings.HasPrefix(path, "sys/") {
		return false
	}
	m, err := n.core.MountInfo(ctx, path)
	if err != nil {
		return false
	}
	rel := strings.TrimPrefix(path, m.Path)
	read := op == logical.ReadOperation || op == logical.ListOperation
	switch m.Type {
	case "kv", "cubbyhole":
		return read
	case "transit":
		if read {
			return true
		}
		for _, p := range transitReads {
			if op == logical.UpdateOperation && (strings.HasPrefix(rel, p) || rel == strings.TrimSuffix(p, "/")) {
				return true
			}
		}
	case "token":
		return (read || op == logical.UpdateOperation) && tokenLookups[strings.TrimSuffix(rel, "/")]
	}
	return false
}

// forwardedForHeader carries the client's address from a standby to the
// active node; only the cluster port's listener believes it.
const ForwardedForHeader = "X-Arca-Forwarded-For"

// ForwardedCertHeader carries the client's TLS certificates (base64
// DER, leaf first) from a standby to the active node; only the cluster
// port's listener believes it.
const ForwardedCertHeader = "X-Arca-Forwarded-Client-Cert"

// forwarder passes requests to the active node over the cluster port.
type forwarder struct {
	raft  *raft.Node
	proxy *httputil.ReverseProxy
}

func newForwarder(node *raft.Node, log *slog.Logger) *forwarder {
	f := &forwarder{raft: node}
	transport := &http.Transport{
		// The URL's host is the active node's cluster address: each
		// active node has its own pool, so a request never rides a
		// connection to a node that lost the lead.
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return node.DialForward(ctx, addr)
		},
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 5 * time.Minute,
	}
	f.proxy = &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			_, addr := node.Leader()
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", addr
			pr.Out.Host = addr
			pr.Out.Header.Del(ForwardedForHeader)
			pr.Out.Header.Del(ForwardedCertHeader)
			if host, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
				pr.Out.Header.Set(ForwardedForHeader, host)
			}
			// The cert auth method reads the client's certificate: it
			// travels with the request (the standby's TLS verified
			// nothing of it; the active node's auth method does).
			if pr.In.TLS != nil {
				for _, c := range pr.In.TLS.PeerCertificates {
					pr.Out.Header.Add(ForwardedCertHeader, base64.StdEncoding.EncodeToString(c.Raw))
				}
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.Warn("forwarding a request to the active node failed", "error", err)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"errors":["` + ErrNotActive.Error() + `"]}` + "\n"))
		},
	}
	return f
}

// Forward passes r to the active node and copies its answer to w. While
// no leader is known (an election, or a node just unsealed that has not
// heard from one) it waits up to leaderWait for one.
func (n *Node) Forward(w http.ResponseWriter, r *http.Request) {
	if !n.awaitLeader(r.Context()) {
		w.Header().Set("Retry-After", "1")
		n.forward.proxy.ErrorHandler(w, r, errors.New("no leader known"))
		return
	}
	n.forward.proxy.ServeHTTP(w, r)
}

// leaderWait bounds how long a request waits for a leader: longer than
// an election takes, short enough that a cluster without quorum answers
// 503 promptly.
const leaderWait = 3 * time.Second

// awaitLeader waits until a leader is known, for at most leaderWait.
func (n *Node) awaitLeader(ctx context.Context) bool {
	if _, addr := n.raft.Leader(); addr != "" {
		return true
	}
	deadline := time.NewTimer(leaderWait)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return false
		case <-tick.C:
			if _, addr := n.raft.Leader(); addr != "" {
				return true
			}
		}
	}
}

// IndexHeader is X-Vault-Index for this node's applied state
// (vaultindex).
func (n *Node) IndexHeader() string { return vaultindex.Encode(n.raft.AppliedIndex()) }

// indexWait bounds how long a standby waits to apply a client's index
// before it forwards (or refuses, with X-Vault-Inconsistent: fail).
const indexWait = 2 * time.Second

// AwaitIndex waits until this node has applied index, or indexWait
// passes (ErrInconsistent).
func (n *Node) AwaitIndex(ctx context.Context, index uint64) error {
	ctx, cancel := context.WithTimeout(ctx, indexWait)
	defer cancel()
	if err := n.raft.WaitApplied(ctx, index); err != nil {
		return fmt.Errorf("%w: want index %d, have %d", ErrInconsistent, index, n.raft.AppliedIndex())
	}
	return nil
}
