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

// handOver leaves the active state and gives the lead to another voter.
// The reconciler is held off meanwhile (it would make a node that still
// leads active again), and so are requests that reach this node: they
// wait in Place for the hand-over and are then forwarded to the new
// active node, rather than meet a leader that takes no writes. If the
// lead cannot be handed over, the reconciler makes this node active
// again.
func (n *Node) handOver() {
	n.reconcileMu.Lock()
	defer n.reconcileMu.Unlock()
	_ = n.core.SetActive(false)
	if err := n.raft.TransferLeadership(); err != nil {
		n.log.Warn("stepping down: the lead was not handed over", "error", err)
		return
	}
	n.log.Info("stepped down: another node leads")
}
