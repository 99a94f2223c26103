package cluster

import (
	"context"
	"errors"
)

// ErrNoStandby: step-down was asked of a cluster with no other voter to
// take over as the active node.
var ErrNoStandby = errors.New("no other voting node can take over as the active node")

// StepDown prepares sys/step-down on this node: on the active node it
// returns the hand-over to run once the request's answer is recorded
// (giving up the active state waits for the requests in flight, the
// step-down's own among them); elsewhere there is nothing to do (nil),
// as in Vault. A cluster with no other voter cannot step down.
func (n *Node) StepDown(context.Context) (func(), error) {
	if !n.core.Active() {
		return nil, nil
	}
	peers, err := n.raft.Peers()
	if err != nil {
		return nil, err
	}
	voters := 0
	for _, p := range peers {
		if p.Voter && p.ID != n.raft.NodeID() {
			voters++
		}
	}
	if voters == 0 {
		return nil, ErrNoStandby
	}
	return n.handOver, nil
}

// handOver gives the lead to another voter and, once it has gone,
// leaves the active state; the reconciler, held off meanwhile, would
// otherwise make a leader that is still leading active again.
func (n *Node) handOver() {
	n.reconcileMu.Lock()
	defer n.reconcileMu.Unlock()
	if err := n.raft.TransferLeadership(); err != nil {
		n.log.Warn("stepping down: the lead was not handed over", "error", err)
		return
	}
	if !n.raft.IsLeader() {
		_ = n.core.SetActive(false)
	}
	n.log.Info("stepped down: another node leads")
}
