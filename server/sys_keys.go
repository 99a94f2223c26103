package server

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/arca-secrets/arca/core"
)

// encodeShares returns the shares in hex and base64, as Vault prints them,
// and wipes the raw shares.
func encodeShares(shares [][]byte) (hexKeys, b64Keys []string) {
	for _, sh := range shares {
		hexKeys = append(hexKeys, hex.EncodeToString(sh))
		b64Keys = append(b64Keys, base64.StdEncoding.EncodeToString(sh))
		clear(sh)
	}
	return hexKeys, b64Keys
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (s *Server) handleRotate(w http.ResponseWriter, r *http.Request, _ string) {
	if !allow(w, r, http.MethodPut, http.MethodPost) {
		return
	}
	if _, err := s.core.Rotate(r.Context()); err != nil {
		s.respondErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleKeyStatus(w http.ResponseWriter, r *http.Request, _ string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	ks, err := s.core.KeyStatus()
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	data := map[string]any{
		"term":         ks.Term,
		"install_time": ks.InstallTime.UTC().Format(time.RFC3339Nano),
		"encryptions":  ks.Encryptions,
	}
	body := envelope(data)
	// Older clients read these at the top level, as Vault also sends them.
	for k, v := range data {
		body[k] = v
	}
	respondJSON(w, http.StatusOK, body)
}

func rekeyStatusJSON(st core.RekeyStatus) map[string]any {
	return map[string]any{
		"nonce":                 st.Nonce,
		"started":               st.Started,
		"t":                     st.Threshold,
		"n":                     st.Shares,
		"progress":              st.Progress,
		"required":              st.Required,
		"pgp_fingerprints":      nil,
		"backup":                false,
		"verification_required": false,
		"verification_nonce":    "",
	}
}

// handleRekeyInit: GET status, PUT/POST start, DELETE cancel. Like Vault,
// the rekey endpoints need no token: holding unseal key shares is the
// authority.
func (s *Server) handleRekeyInit(w http.ResponseWriter, r *http.Request, _ string) {
	if !allow(w, r, http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete) {
		return
	}
	var st core.RekeyStatus
	var err error
	switch r.Method {
	case http.MethodGet:
		st, err = s.core.RekeyStatus(r.Context())
	case http.MethodDelete:
		if s.core.Sealed() {
			s.respondErr(w, r, core.ErrSealed)
			return
		}
		s.core.RekeyCancel()
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		var req struct {
			SecretShares        int      `json:"secret_shares"`
			SecretThreshold     int      `json:"secret_threshold"`
			PGPKeys             []string `json:"pgp_keys"`
			Backup              bool     `json:"backup"`
			RequireVerification bool     `json:"require_verification"`
		}
		if err := decodeInto(r, &req); err != nil {
			s.respondErr(w, r, err)
			return
		}
		if len(req.PGPKeys) > 0 || req.Backup || req.RequireVerification {
			s.respondErr(w, r, &badRequest{"pgp_keys, backup and require_verification are not supported"})
			return
		}
		st, err = s.core.RekeyInit(r.Context(), req.SecretShares, req.SecretThreshold)
	}
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	respondJSON(w, http.StatusOK, rekeyStatusJSON(st))
}

func (s *Server) handleRekeyUpdate(w http.ResponseWriter, r *http.Request, _ string) {
	if !allow(w, r, http.MethodPut, http.MethodPost) {
		return
	}
	share, nonce, err := shareUpdate(r)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	st, err := s.core.RekeyUpdate(r.Context(), share, nonce)
	clear(share)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	if !st.Complete {
		respondJSON(w, http.StatusOK, rekeyStatusJSON(st))
		return
	}
	hexKeys, b64Keys := encodeShares(st.Keys)
	respondJSON(w, http.StatusOK, map[string]any{
		"nonce":                 st.Nonce,
		"complete":              true,
		"keys":                  hexKeys,
		"keys_base64":           b64Keys,
		"pgp_fingerprints":      nil,
		"backup":                false,
		"verification_required": false,
	})
}

// rekeyTarget serves h only where its target is the seal's: sys/rekey/*
// rekeys unseal key shares (a seal that needs people), and
// sys/rekey-recovery-key/* the recovery key of a seal that unseals by
// itself, as in Vault.
func (s *Server) rekeyTarget(recovery bool, h sysHandler) sysHandler {
	return func(w http.ResponseWriter, r *http.Request, sub string) {
		st, err := s.core.SealStatus(r.Context())
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		switch {
		case recovery && !st.RecoverySeal:
			respondError(w, http.StatusBadRequest, errors.New("this server's seal has no recovery keys: rekey its unseal key shares at sys/rekey"))
		case !recovery && st.RecoverySeal:
			respondError(w, http.StatusBadRequest, errors.New("this server's seal unseals by itself and has no unseal key shares: rekey its recovery keys at sys/rekey-recovery-key"))
		default:
			h(w, r, sub)
		}
	}
}
