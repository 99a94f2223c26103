package server

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/cluster"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage/raft"
)

// RaftStorage is what sys/storage/raft/* needs of integrated storage.
type RaftStorage interface {
	Peers() ([]raft.Peer, error)
	RemoveServer(id string) error
	SaveSnapshot(w io.Writer, seal raft.SealFunc) error
	RestoreSnapshot(s *raft.Snapshot) error
	// EnsureCluster starts a cluster of this node if it belongs to none
	// (at init).
	EnsureCluster(ctx context.Context) error
}

var _ RaftStorage = (*raft.Node)(nil)

var errNoRaft = errors.New("this server's storage is not raft")

// allowRaft is allow for a sys/storage/raft route, which also needs this
// server's storage to be raft (present).
func allowRaft(w http.ResponseWriter, r *http.Request, present bool, methods ...string) bool {
	if !allow(w, r, methods...) {
		return false
	}
	if !present {
		respondError(w, http.StatusBadRequest, errNoRaft)
		return false
	}
	return true
}

// handleRaftConfiguration answers GET sys/storage/raft/configuration in
// Vault's shape.
func (s *Server) handleRaftConfiguration(w http.ResponseWriter, r *http.Request, _ string) {
	if !allowRaft(w, r, s.raft != nil, http.MethodGet) {
		return
	}
	peers, err := s.raft.Peers()
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	servers := []any{}
	for _, p := range peers {
		servers = append(servers, map[string]any{
			"node_id": p.ID, "address": p.Address, "leader": p.Leader, "voter": p.Voter, "protocol_version": "3",
		})
	}
	respondJSON(w, http.StatusOK, envelope(map[string]any{"config": map[string]any{"servers": servers, "index": 0}}))
}

// handleRaftRemovePeer serves POST sys/storage/raft/remove-peer.
func (s *Server) handleRaftRemovePeer(w http.ResponseWriter, r *http.Request, _ string) {
	if !allowRaft(w, r, s.raft != nil, http.MethodPost, http.MethodPut) {
		return
	}
	body, err := decodeBody(r)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	id, err := logical.StringParam(body, "server_id")
	if err != nil || id == "" {
		s.respondErr(w, r, &badRequest{"'server_id' must name the node to remove"})
		return
	}
	if err := s.raft.RemoveServer(id); err != nil {
		s.respondErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleRaftSnapshot serves GET sys/storage/raft/snapshot (save) and POST
// (restore). A restore replaces every key, the keyring's included, so
// the node seals once the answer is recorded, and so does every other
// node whose root key does not open the restored keyring: each is
// unsealed again with the keys of the cluster the snapshot came from.
// A snapshot of another cluster is refused here, as in Vault: its
// keyring does not open with this cluster's root key, so the cluster
// could not be unsealed with the keys its operators hold;
// snapshot-force restores it all the same.
func (s *Server) handleRaftSnapshot(w http.ResponseWriter, r *http.Request, _ string) {
	if !allowRaft(w, r, s.raft != nil, http.MethodGet, http.MethodPost, http.MethodPut) {
		return
	}
	if r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "application/octet-stream")
		if err := s.raft.SaveSnapshot(w, s.core.SealSnapshotSums); err != nil {
			s.log.Error("saving a snapshot", "error", err)
			respondError(w, http.StatusInternalServerError, errors.New("internal error"))
		}
		return
	}
	s.restoreSnapshot(w, r, false)
}

// handleRaftSnapshotForce serves POST sys/storage/raft/snapshot-force: a
// restore without the check that the snapshot comes from this cluster.
func (s *Server) handleRaftSnapshotForce(w http.ResponseWriter, r *http.Request, _ string) {
	if !allowRaft(w, r, s.raft != nil, http.MethodPost, http.MethodPut) {
		return
	}
	s.restoreSnapshot(w, r, true)
}

// errForeignSnapshot: the snapshot's keyring does not open with this
// cluster's root key.
var errForeignSnapshot = &badRequest{"the snapshot comes from another cluster: its keyring does not open with this cluster's root key; " +
	"restore it with sys/storage/raft/snapshot-force (arca operator raft snapshot restore -force), then unseal every node with that cluster's keys"}

// errUnsealedSnapshot: the snapshot's sums were not sealed by this
// cluster's keyring (altered, or put together elsewhere).
var errUnsealedSnapshot = &badRequest{"the snapshot's SHA256SUMS.sealed does not open with this cluster's keyring to its sums: it was altered or not saved by this cluster; " +
	"sys/storage/raft/snapshot-force (arca operator raft snapshot restore -force) restores it all the same"}

func (s *Server) restoreSnapshot(w http.ResponseWriter, r *http.Request, force bool) {
	// The state, uncompressed, may be a few times the file: bounded all
	// the same, a small file cannot stand for a huge one.
	snap, err := raft.ReadSnapshot(http.MaxBytesReader(w, r.Body, s.limits.MaxRequestSize), 4*s.limits.MaxRequestSize)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		s.respondErr(w, r, &tooLarge{s.limits.MaxRequestSize})
		return
	case errors.Is(err, raft.ErrBadSnapshot):
		s.respondErr(w, r, &badRequest{err.Error()})
		return
	case err != nil:
		s.respondErr(w, r, err)
		return
	}
	if !force {
		switch err := s.core.OpensKeyring(snap.Entry(barrier.KeyringPath)); {
		case errors.Is(err, barrier.ErrBadRootKey):
			s.respondErr(w, r, errForeignSnapshot)
			return
		case errors.Is(err, barrier.ErrCorruptKeyring):
			s.respondErr(w, r, &badRequest{"the snapshot holds no valid keyring"})
			return
		case err != nil:
			s.respondErr(w, r, err)
			return
		}
		if !snap.SealedBy(s.core.OpenSnapshotSums) {
			s.respondErr(w, r, errUnsealedSnapshot)
			return
		}
	}
	if err := s.raft.RestoreSnapshot(snap); err != nil {
		s.respondErr(w, r, err)
		return
	}
	callOf(r).After(func(ctx context.Context) {
		if err := s.core.Seal(ctx); err != nil {
			s.log.Error("sealing after a snapshot restore", "error", err)
		}
	})
	w.WriteHeader(http.StatusNoContent)
}

// handleStepDown serves PUT/POST sys/step-down: the active node hands
// the lead to another voter once the answer is recorded (a standby
// forwards the request to it). On a node that is not active, or not in a
// cluster, it does nothing, as in Vault.
func (s *Server) handleStepDown(w http.ResponseWriter, r *http.Request, _ string) {
	if !allow(w, r, http.MethodPost, http.MethodPut) {
		return
	}
	if s.cluster != nil {
		handOver, err := s.cluster.StepDown(r.Context())
		if errors.Is(err, cluster.ErrNoStandby) {
			s.respondErr(w, r, &badRequest{err.Error()})
			return
		}
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		if handOver != nil {
			callOf(r).After(func(context.Context) { handOver() })
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
