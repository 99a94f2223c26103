package server

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage/raft"
)

// RaftStorage is what sys/storage/raft/* needs of integrated storage.
type RaftStorage interface {
	Peers() ([]raft.Peer, error)
	RemoveServer(id string) error
	SaveSnapshot(w io.Writer) error
	RestoreSnapshot(r io.Reader) error
	// EnsureCluster starts a cluster of this node if it belongs to none
	// (at init).
	EnsureCluster(ctx context.Context) error
}

var _ RaftStorage = (*raft.Node)(nil)

var errNoRaft = errors.New("this server's storage is not raft")

// handleRaftConfiguration answers GET sys/storage/raft/configuration in
// Vault's shape.
func (s *Server) handleRaftConfiguration(w http.ResponseWriter, r *http.Request, _ string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	if s.raft == nil {
		respondError(w, http.StatusBadRequest, errNoRaft)
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
	if !allow(w, r, http.MethodPost, http.MethodPut) {
		return
	}
	if s.raft == nil {
		respondError(w, http.StatusBadRequest, errNoRaft)
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
// (restore). A restore replaces every key, the keyring's included, so the
// node seals once the answer is recorded: it is unsealed again with the
// keys of the cluster the snapshot came from.
func (s *Server) handleRaftSnapshot(w http.ResponseWriter, r *http.Request, _ string) {
	if !allow(w, r, http.MethodGet, http.MethodPost, http.MethodPut) {
		return
	}
	if s.raft == nil {
		respondError(w, http.StatusBadRequest, errNoRaft)
		return
	}
	if r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "application/octet-stream")
		if err := s.raft.SaveSnapshot(w); err != nil {
			s.log.Error("saving a snapshot", "error", err)
			respondError(w, http.StatusInternalServerError, errors.New("internal error"))
		}
		return
	}
	body := http.MaxBytesReader(w, r.Body, s.limits.MaxRequestSize)
	if err := s.raft.RestoreSnapshot(body); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			s.respondErr(w, r, &tooLarge{s.limits.MaxRequestSize})
		case errors.Is(err, raft.ErrBadSnapshot):
			s.respondErr(w, r, &badRequest{err.Error()})
		default:
			s.respondErr(w, r, err)
		}
		return
	}
	callOf(r).After(func(ctx context.Context) {
		if err := s.core.Seal(ctx); err != nil {
			s.log.Error("sealing after a snapshot restore", "error", err)
		}
	})
	w.WriteHeader(http.StatusNoContent)
}
