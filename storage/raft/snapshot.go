package raft

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	hraft "github.com/hashicorp/raft"
)

// A saved snapshot is one line of JSON (the Raft metadata: index, term,
// membership, size) followed by the snapshot's own bytes. Its entries
// are barrier ciphertexts: a saved snapshot is as safe as the storage it
// came from, and useless without the cluster's keys.

// ErrBadSnapshot: what was given to restore is not a saved snapshot.
var ErrBadSnapshot = errors.New("raft storage: not a snapshot saved by arca")

// SaveSnapshot takes a snapshot now and writes it to w.
func (n *Node) SaveSnapshot(w io.Writer) error {
	f := n.raft.Snapshot()
	if err := f.Error(); err != nil {
		return err
	}
	meta, rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	head, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	if _, err := w.Write(append(head, '\n')); err != nil {
		return err
	}
	_, err = io.Copy(w, rc)
	return err
}

// RestoreSnapshot replaces the cluster's data with a saved snapshot's,
// through the log, so every node restores it. Only the leader can.
func (n *Node) RestoreSnapshot(r io.Reader) error {
	br := bufio.NewReader(r)
	head, err := br.ReadBytes('\n')
	if err != nil {
		return ErrBadSnapshot
	}
	var meta hraft.SnapshotMeta
	if err := json.Unmarshal(head, &meta); err != nil || meta.Size <= 0 || meta.Index == 0 {
		return ErrBadSnapshot
	}
	if err := n.raft.Restore(&meta, io.LimitReader(br, meta.Size), n.timeout); err != nil {
		return n.leaderOnly(fmt.Errorf("restoring a snapshot: %w", err))
	}
	return nil
}
