package raft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	hraft "github.com/hashicorp/raft"
)

// A restarted node rebuilds its state from its own disk: the newest
// snapshot, then the log entries after it up to the last index it had
// applied before it stopped (all committed, since only committed entries
// are applied). It needs nothing from its peers to be unsealed, and so it
// is given nothing: its cluster certificate is not kept on disk, and it
// takes part in the cluster only once unsealed, when it issues itself a
// new one from the cluster CA in the barrier. A stolen disk, or a node
// restarted without its unseal keys, receives no entry from the cluster.

// appliedFile records the last index this node applied: a lower bound
// written a little behind the state (no fsync: a lost write only means
// fewer entries replayed at start, which the cluster sends again once
// the node is unsealed).
const appliedFile = "applied-index"

// recordEvery is how often the applied index is recorded.
const recordEvery = 200 * time.Millisecond

// recover gives f the state this node had when it stopped, from snaps and
// logs alone, and returns the index it reached. Entries up to it are
// skipped when Raft applies them again.
func (f *fsm) recover(dir string, snaps hraft.SnapshotStore, logs hraft.LogStore) (uint64, error) {
	list, err := snaps.List()
	if err != nil {
		return 0, err
	}
	var from uint64
	if len(list) > 0 {
		// The newest: the one Raft takes its applied index from at start
		// (NoSnapshotRestoreOnStart leaves the restore to this).
		meta, rc, err := snaps.Open(list[0].ID)
		if err != nil {
			return 0, fmt.Errorf("raft storage: opening snapshot %s: %w", list[0].ID, err)
		}
		if err := f.Restore(rc); err != nil {
			return 0, err
		}
		from = meta.Index
		f.advance(from)
	}
	upto := readApplied(dir)
	last, err := logs.LastIndex()
	if err != nil {
		return 0, err
	}
	upto = min(upto, last)
	reached := from
	for i := from + 1; i <= upto; i++ {
		var l hraft.Log
		if err := logs.GetLog(i, &l); err != nil {
			// A gap (compacted or lost): stop at the consistent prefix.
			break
		}
		if l.Type == hraft.LogCommand {
			if err, ok := f.Apply(&l).(error); ok && err != nil {
				return 0, err
			}
		}
		f.advance(i)
		reached = i
	}
	f.skip.Store(reached)
	return reached, nil
}

// readApplied is the recorded applied index, 0 when there is none.
func readApplied(dir string) uint64 {
	raw, err := os.ReadFile(filepath.Join(dir, appliedFile))
	if err != nil || len(raw) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(raw)
}

// writeApplied records index.
func writeApplied(dir string, index uint64) error {
	var raw [8]byte
	binary.BigEndian.PutUint64(raw[:], index)
	tmp := filepath.Join(dir, appliedFile+".tmp")
	if err := os.WriteFile(tmp, raw[:], 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, appliedFile))
}

// recordApplied records the applied index while it moves, until stop.
func (n *Node) recordApplied(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(recordEvery)
	defer t.Stop()
	var recorded uint64
	record := func() {
		if i := n.fsm.index.Load(); i != recorded {
			if err := writeApplied(n.dir, i); err == nil {
				recorded = i
			}
		}
	}
	for {
		select {
		case <-stop:
			record()
			return
		case <-t.C:
			record()
		}
	}
}

// removeOldIdentity deletes the certificate and key that earlier
// versions kept beside the log: a node no longer keeps them.
func removeOldIdentity(dir string) error {
	err := os.Remove(filepath.Join(dir, "node-tls.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
