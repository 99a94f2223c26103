package raft

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	hraft "github.com/hashicorp/raft"

	"github.com/arca-secrets/arca/storage"
)

// A saved snapshot is one line of JSON (the Raft metadata: index, term,
// membership, size, and the SHA-256 of what follows) followed by the
// snapshot's own bytes. Its entries are barrier ciphertexts: a saved
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

// savedHeader is a saved snapshot's first line.
type savedHeader struct {
	hraft.SnapshotMeta
	// SHA256 is the hex SHA-256 of the snapshot's bytes after the line.
	SHA256 string `json:"sha256"`
}

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
	// The sum heads the file, so the body is read before any of it is
	// written; the state it holds is in this node's memory anyway.
	var body bytes.Buffer
	if _, err := io.Copy(&body, rc); err != nil {
		return err
	}
	sum := sha256.Sum256(body.Bytes())
	h := savedHeader{SnapshotMeta: *meta, SHA256: hex.EncodeToString(sum[:])}
	h.Size = int64(body.Len())
	head, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if _, err := w.Write(append(head, '\n')); err != nil {
		return err
	}
	_, err = body.WriteTo(w)
	return err
}

// Snapshot is a saved snapshot read whole and checked: its sum matches
// and every entry decodes, so restoring it cannot fail halfway.
type Snapshot struct {
	meta    hraft.SnapshotMeta
	body    []byte
	entries map[string][]byte
}

// Entry is the stored value of key in the snapshot (a barrier
// ciphertext, or a raw core/ entry), nil when it has none.
func (s *Snapshot) Entry(key string) []byte { return s.entries[key] }

// ReadSnapshot reads a saved snapshot from r and checks it. A read error
// (a body over the request limit) is wrapped beside ErrBadSnapshot.
func ReadSnapshot(r io.Reader) (*Snapshot, error) {
	br := bufio.NewReader(r)
	head, err := br.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("%w: no header line: %w", ErrBadSnapshot, err)
	}
	var h savedHeader
	if err := json.Unmarshal(head, &h); err != nil || h.Size <= 0 || h.Index == 0 {
		return nil, fmt.Errorf("%w: no valid header line", ErrBadSnapshot)
	}
	want, err := hex.DecodeString(h.SHA256)
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("%w: the header has no SHA-256", ErrBadSnapshot)
	}
	if h.Version < hraft.SnapshotVersionMin || h.Version > hraft.SnapshotVersionMax {
		return nil, fmt.Errorf("%w: unsupported snapshot version %d", ErrBadSnapshot, h.Version)
	}
	// Read what is there, one byte past the size at most: the header's
	// size alone allocates nothing, so a lying header costs no memory.
	body, err := io.ReadAll(io.LimitReader(br, h.Size+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSnapshot, err)
	}
	switch {
	case int64(len(body)) < h.Size:
		return nil, fmt.Errorf("%w: truncated (%d of %d bytes)", ErrBadSnapshot, len(body), h.Size)
	case int64(len(body)) > h.Size:
		return nil, fmt.Errorf("%w: bytes after the end", ErrBadSnapshot)
	}
	if got := sha256.Sum256(body); !bytes.Equal(got[:], want) {
		return nil, fmt.Errorf("%w: the SHA-256 does not match (altered or damaged)", ErrBadSnapshot)
	}
	var list []*storage.Entry
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("%w: undecodable entries", ErrBadSnapshot)
	}
	s := &Snapshot{meta: h.SnapshotMeta, body: body, entries: make(map[string][]byte, len(list))}
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
