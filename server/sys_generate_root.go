package server

import (
	"net/http"

	"github.com/arca-secrets/arca/core/genroot"
)

// generateRootJSON is Vault's shape of a root token generation's status.
// encoded_root_token repeats encoded_token for older clients, as Vault's
// answer does.
func generateRootJSON(st genroot.Status) map[string]any {
	return map[string]any{
		"nonce":              st.Nonce,
		"started":            st.Started,
		"progress":           st.Progress,
		"required":           st.Required,
		"complete":           st.Complete,
		"encoded_token":      st.EncodedToken,
		"encoded_root_token": st.EncodedToken,
		"pgp_fingerprint":    "",
		"otp":                st.OTP,
		"otp_length":         st.OTPLength,
	}
}

// generateRootHandlers are the generate-root endpoints under Vault's
// paths, answering at the top level of the body, and under OpenBao's
// (generate-root-token, which its API client and CLI use), answering in a
// "data" envelope.
func (s *Server) generateRootHandlers() map[string]sysHandler {
	vault := func(st genroot.Status) any { return generateRootJSON(st) }
	bao := func(st genroot.Status) any { return envelope(generateRootJSON(st)) }
	return map[string]sysHandler{
		"generate-root/attempt":       func(w http.ResponseWriter, r *http.Request, _ string) { s.generateRootAttempt(w, r, vault) },
		"generate-root/update":        func(w http.ResponseWriter, r *http.Request, _ string) { s.generateRootUpdate(w, r, vault) },
		"generate-root-token/attempt": func(w http.ResponseWriter, r *http.Request, _ string) { s.generateRootAttempt(w, r, bao) },
		"generate-root-token/update":  func(w http.ResponseWriter, r *http.Request, _ string) { s.generateRootUpdate(w, r, bao) },
	}
}

// generateRootAttempt: GET status, PUT/POST start, DELETE cancel. The new
// token is encoded with a one-time pad (otp); a PGP key is not supported
// (see the README).
func (s *Server) generateRootAttempt(w http.ResponseWriter, r *http.Request, shape func(genroot.Status) any) {
	if !allow(w, r, http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete) {
		return
	}
	var st genroot.Status
	var err error
	switch r.Method {
	case http.MethodGet:
		st, err = s.core.GenerateRootStatus(r.Context())
	case http.MethodDelete:
		if err := s.core.GenerateRootCancel(); err != nil {
			s.respondErr(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		var req struct {
			OTP    string `json:"otp"`
			PGPKey string `json:"pgp_key"`
		}
		if err := decodeInto(r, &req); err != nil {
			s.respondErr(w, r, err)
			return
		}
		if req.PGPKey != "" {
			s.respondErr(w, r, &badRequest{"pgp_key is not supported: Arca encodes the new root token with a one-time pad (give otp, or nothing to have one made)"})
			return
		}
		st, err = s.core.GenerateRootInit(r.Context(), req.OTP)
	}
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	respondJSON(w, http.StatusOK, shape(st))
}

// generateRootUpdate takes one key share (key) for the generation with
// nonce; the share that completes it gets the encoded token.
func (s *Server) generateRootUpdate(w http.ResponseWriter, r *http.Request, shape func(genroot.Status) any) {
	if !allow(w, r, http.MethodPut, http.MethodPost) {
		return
	}
	share, nonce, err := shareUpdate(r)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	st, err := s.core.GenerateRootUpdate(r.Context(), share, nonce)
	clear(share)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	respondJSON(w, http.StatusOK, shape(st))
}
