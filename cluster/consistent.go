package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Linearizable reads. By default a standby answers from what it has
// applied (with read-your-writes through X-Vault-Index). A client that
// needs every read to see every write acknowledged before it started,
// whoever made it, sends ConsistencyHeader: linearizable. The node then
// asks the active node for a read index, the active node confirms with
// a quorum that it still leads (so a deposed leader cannot answer) and
// gives its applied index, and the node answers once it has applied as
// much: Raft's ReadIndex, served from local state.

// ConsistencyHeader asks for a linearizable read.
const ConsistencyHeader = "X-Arca-Consistency"

// ReadIndexPath is the cluster port's read-index endpoint (never on an
// API listener).
const ReadIndexPath = "/cluster/read-index"

// Linearizable reports whether r asks for a linearizable read.
func Linearizable(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get(ConsistencyHeader), "linearizable")
}

// ReadIndex is the index a linearizable read must have applied: the
// active node's applied index once a quorum confirms it leads.
func (n *Node) ReadIndex(ctx context.Context) (uint64, error) {
	if !n.core.Active() {
		return 0, ErrNotActive
	}
	if err := n.raft.VerifyLeader(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNotActive, err)
	}
	return n.raft.AppliedIndex(), nil
}

// AwaitLinearizable waits until this node may answer a linearizable
// read: on the active node, once it confirms it leads; on a standby,
// once it has applied the active node's read index (bounded, then
// ErrInconsistent).
func (n *Node) AwaitLinearizable(ctx context.Context) error {
	if n.core.Active() {
		_, err := n.ReadIndex(ctx)
		return err
	}
	if brokenReads {
		return nil
	}
	idx, err := n.fetchReadIndex(ctx)
	if err != nil {
		return err
	}
	return n.AwaitIndex(ctx, idx)
}

// fetchReadIndex asks the active node for a read index over the
// cluster port.
func (n *Node) fetchReadIndex(ctx context.Context) (uint64, error) {
	_, addr := n.raft.Leader()
	if addr == "" {
		return 0, ErrNotActive
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+ReadIndexPath, nil)
	if err != nil {
		return 0, err
	}
	resp, err := n.forward.proxy.Transport.RoundTrip(req)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNotActive, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, ErrNotActive
	}
	var out struct {
		Index uint64 `json:"index"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1024)).Decode(&out); err != nil {
		return 0, err
	}
	return out.Index, nil
}
