package server

import (
	"context"
	"net/http"
	"strconv"

	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/internal/version"
)

func sealStatusJSON(st core.SealStatus) map[string]any {
	return map[string]any{
		"type":          st.Type,
		"initialized":   st.Initialized,
		"sealed":        st.Sealed,
		"t":             st.Threshold,
		"n":             st.Shares,
		"progress":      st.Progress,
		"nonce":         st.Nonce,
		"version":       version.Version,
		"build_date":    "",
		"commit_date":   "",
		"migration":     st.Migration,
		"recovery_seal": st.RecoverySeal,
		"storage_type":  st.StorageType,
	}
}

func (s *Server) handleSealStatus(w http.ResponseWriter, r *http.Request, _ string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	st, err := s.sealStatus(r.Context())
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	respondJSON(w, http.StatusOK, sealStatusJSON(st))
}

// sealStatus is the core's, or while this node joins a cluster, the
// join's: the cluster's seal and the keys given so far.
func (s *Server) sealStatus(ctx context.Context) (core.SealStatus, error) {
	if s.cluster != nil && s.cluster.JoinPending() {
		return s.cluster.JoinSealStatus(), nil
	}
	return s.core.SealStatus(ctx)
}

func (s *Server) handleInit(w http.ResponseWriter, r *http.Request, _ string) {
	if !allow(w, r, http.MethodGet, http.MethodPut, http.MethodPost) {
		return
	}
	if r.Method == http.MethodGet {
		ok, err := s.core.Initialized(r.Context())
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		respondJSON(w, http.StatusOK, map[string]bool{"initialized": ok})
		return
	}
	var req struct {
		SecretShares      int      `json:"secret_shares"`
		SecretThreshold   int      `json:"secret_threshold"`
		RecoveryShares    int      `json:"recovery_shares"`
		RecoveryThreshold int      `json:"recovery_threshold"`
		PGPKeys           []string `json:"pgp_keys"`
		RecoveryPGPKeys   []string `json:"recovery_pgp_keys"`
		RootTokenPGPKey   string   `json:"root_token_pgp_key"`
	}
	if err := decodeInto(r, &req); err != nil {
		s.respondErr(w, r, err)
		return
	}
	if len(req.PGPKeys) > 0 || len(req.RecoveryPGPKeys) > 0 || req.RootTokenPGPKey != "" {
		s.respondErr(w, r, &badRequest{"PGP-encrypted key shares are not supported"})
		return
	}
	if s.cluster != nil && s.cluster.JoinPending() {
		s.respondErr(w, r, &badRequest{"this node is joining a cluster: unseal it with the cluster's keys instead"})
		return
	}
	if s.raft != nil {
		// A raft node starts its cluster (of one) at init, not before:
		// until then it may still join another.
		if err := s.raft.EnsureCluster(r.Context()); err != nil {
			s.respondErr(w, r, err)
			return
		}
	}
	res, err := s.core.InitWith(r.Context(), core.InitParams{
		SecretShares: req.SecretShares, SecretThreshold: req.SecretThreshold,
		RecoveryShares: req.RecoveryShares, RecoveryThreshold: req.RecoveryThreshold,
	})
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	hexKeys, b64Keys := encodeShares(res.Shares)
	hexRecovery, b64Recovery := encodeShares(res.RecoveryShares)
	respondJSON(w, http.StatusOK, map[string]any{
		"keys":                 hexKeys,
		"keys_base64":          b64Keys,
		"recovery_keys":        hexRecovery,
		"recovery_keys_base64": b64Recovery,
		"root_token":           res.RootToken,
	})
}

func (s *Server) handleUnseal(w http.ResponseWriter, r *http.Request, _ string) {
	if !allow(w, r, http.MethodPut, http.MethodPost) {
		return
	}
	var req struct {
		Key     string `json:"key"`
		Reset   bool   `json:"reset"`
		Migrate bool   `json:"migrate"`
	}
	if err := decodeInto(r, &req); err != nil {
		s.respondErr(w, r, err)
		return
	}
	var st core.SealStatus
	var err error
	switch {
	case req.Reset:
		st, err = s.core.ResetUnseal(r.Context())
	case req.Key == "":
		err = &badRequest{"'key' must be specified in request body as JSON, or 'reset' set to true"}
	default:
		var share []byte
		share, err = decodeKey(req.Key)
		if err == nil {
			switch {
			case req.Migrate:
				st, err = s.core.UnsealMigrate(r.Context(), share)
			case s.cluster != nil && s.cluster.JoinPending():
				st, err = s.cluster.JoinUnseal(r.Context(), share)
			default:
				st, err = s.core.Unseal(r.Context(), share)
			}
			clear(share)
		}
	}
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	respondJSON(w, http.StatusOK, sealStatusJSON(st))
}

func (s *Server) handleSeal(w http.ResponseWriter, r *http.Request, _ string) {
	if !allow(w, r, http.MethodPut, http.MethodPost) {
		return
	}
	// Sealing closes the audit devices: it happens once the answer is
	// recorded, and the client hears of it after that.
	callOf(r).After(func(ctx context.Context) {
		if err := s.core.Seal(ctx); err != nil {
			s.log.Error("sealing failed", "error", err)
		}
	})
	eraseAfter(r)
	w.WriteHeader(http.StatusNoContent)
}

// handleHealth answers like Vault's sys/health: the status code says the
// state, and query parameters may change each code.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request, _ string) {
	if !allow(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	q := r.URL.Query()
	code := func(name string, def int) (int, error) {
		v := q.Get(name)
		if v == "" {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 || n > 599 {
			return 0, &badRequest{"invalid value for " + name + ": must be an HTTP status code"}
		}
		return n, nil
	}
	st, err := s.sealStatus(r.Context())
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	var status int
	standby := false
	switch {
	case !st.Initialized:
		status, err = code("uninitcode", http.StatusNotImplemented)
	case st.Sealed:
		status, err = code("sealedcode", http.StatusServiceUnavailable)
	case s.cluster != nil && !s.core.Active():
		standby = true
		status, err = healthStandby(q)
	default:
		status, err = code("activecode", http.StatusOK)
	}
	// Vault's other codes and flags (standbycode is read above on a
	// standby) name states an Arca node is never in; a malformed one is
	// still refused, not ignored.
	for _, name := range []string{"standbycode", "drsecondarycode", "performancestandbycode", "perfstandbyokcode", "removedcode", "haunhealthycode"} {
		if err == nil {
			_, err = code(name, 0)
		}
	}
	for _, name := range []string{"standbyok", "perfstandbyok"} {
		if v := q.Get(name); err == nil && v != "" {
			if _, perr := strconv.ParseBool(v); perr != nil {
				err = &badRequest{"invalid value for " + name + ": must be true or false"}
			}
		}
	}
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	body := map[string]any{
		"initialized":                  st.Initialized,
		"sealed":                       st.Sealed,
		"standby":                      standby,
		"performance_standby":          false,
		"replication_performance_mode": "disabled",
		"replication_dr_mode":          "disabled",
		"server_time_utc":              s.core.Now().Unix(),
		"version":                      version.Version,
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	respondJSON(w, status, body)
}

// handleLeader answers sys/leader: who is active (the vault/bao CLIs call
// it from "status"); a node alone says HA is off.
func (s *Server) handleLeader(w http.ResponseWriter, r *http.Request, _ string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	if s.core.Sealed() {
		s.respondErr(w, r, core.ErrSealed)
		return
	}
	respondJSON(w, http.StatusOK, s.leaderJSON(r.Context()))
}
