package raft

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	hraft "github.com/hashicorp/raft"

	"github.com/arca-secrets/arca/storage"
)

// A saved snapshot has Vault's shape, which its API clients check: a
// gzip-compressed tar of meta.json (the Raft metadata: index, term,
// membership, size), state.bin (the snapshot's own bytes), SHA256SUMS
// (the SHA-256 of both, as sha256sum writes them) and SHA256SUMS.sealed
// (those sums sealed with the barrier's keyring, which the clients
// require to be there). Its entries are barrier ciphertexts: a saved
// snapshot is as safe as the storage it came from, and useless without
// the cluster's keys.
//
// A restore is checked whole before Raft sees it: Raft takes a restored
// snapshot as its newest (a restart restores it again) and panics if the
// state machine cannot read it, so a truncated or altered file must be
// refused here, with the cluster's data untouched.

// ErrBadSnapshot: what was given to restore is not a snapshot saved by
// arca, or not all of one (truncated, altered).
var ErrBadSnapshot = errors.New("raft storage: not a snapshot saved by arca")

// SealFunc seals a snapshot's sums with the barrier's keyring.
type SealFunc func(sums []byte) ([]byte, error)

// SaveSnapshot takes a snapshot now and writes it to w, its sums sealed
// with seal.
func (n *Node) SaveSnapshot(w io.Writer, seal SealFunc) error {
	f := n.raft.Snapshot()
	if err := f.Error(); err != nil {
		return err
	}
	meta, rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	// The state is in this node's memory anyway; read whole, it is
	// summed and sealed before a byte is written.
	body, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	return writeArchive(w, meta, body, seal)
}

// Snapshot is a saved snapshot read whole and checked: its sum matches
// and every entry decodes, so restoring it cannot fail halfway.
type Snapshot struct {
	meta    hraft.SnapshotMeta
	body    []byte
	entries map[string][]byte
	// sums is SHA256SUMS, which matched; sealed is SHA256SUMS.sealed,
	// opened by SealedBy.
	sums, sealed []byte
}

// SealedBy reports whether open (the cluster's keyring) opens the
// snapshot's sealed sums to the sums it holds: a snapshot this cluster
// saved, not altered since (a forged one could match its sums, never
// seal them).
func (s *Snapshot) SealedBy(open func(sealed []byte) ([]byte, error)) bool {
	got, err := open(s.sealed)
	return err == nil && bytes.Equal(got, s.sums)
}

// Entry is the stored value of key in the snapshot (a barrier
// ciphertext, or a raw core/ entry), nil when it has none.
func (s *Snapshot) Entry(key string) []byte { return s.entries[key] }

// ReadSnapshot reads a saved snapshot from r and checks it; its state
// may be at most maxState bytes once uncompressed. A read error (a body
// over the request limit) is wrapped beside ErrBadSnapshot.
func ReadSnapshot(r io.Reader, maxState int64) (*Snapshot, error) {
	a, err := readArchive(r, maxState)
	if err != nil {
		return nil, err
	}
	body := a.state
	var list []*storage.Entry
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("%w: undecodable entries", ErrBadSnapshot)
	}
	s := &Snapshot{meta: a.meta, body: body, sums: a.sums, sealed: a.sealed, entries: make(map[string][]byte, len(list))}
	for _, e := range list {
		if e == nil || !storage.ValidKey(e.Key) {
			return nil, fmt.Errorf("%w: an invalid entry", ErrBadSnapshot)
		}
		s.entries[e.Key] = e.Value
	}
	return s, nil
}

// RestoreSnapshot replaces the cluster's data with s's, through the log,
// so every node restores it. Only the leader can.
func (n *Node) RestoreSnapshot(s *Snapshot) error {
	meta := s.meta
	// This node's own restore, like its own writes, is not announced
	// through Applied: the caller knows of it (and seals once it has
	// answered).
	n.fsm.ownRestore.Store(true)
	defer n.fsm.ownRestore.Store(false)
	if err := n.raft.Restore(&meta, bytes.NewReader(s.body), n.timeout); err != nil {
		return n.leaderOnly(fmt.Errorf("restoring a snapshot: %w", err))
	}
	return nil
}
