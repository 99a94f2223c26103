package server

import (
	"net/http"
	"strings"

	"github.com/arca-secrets/arca/logical"
)

// handlePasswordPolicyList answers LIST sys/policies/password.
func (s *Server) handlePasswordPolicyList(w http.ResponseWriter, r *http.Request, _ string) {
	if !allow(w, r, http.MethodGet, "LIST") {
		return
	}
	names, err := s.core.PasswordPolicyNames(r.Context())
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	if len(names) == 0 {
		respondError(w, http.StatusNotFound, nil)
		return
	}
	respondJSON(w, http.StatusOK, envelope(map[string]any{"keys": names}))
}

// handlePasswordPolicy serves sys/policies/password/<name> (the HCL text
// in "policy") and sys/policies/password/<name>/generate.
func (s *Server) handlePasswordPolicy(w http.ResponseWriter, r *http.Request, sub string) {
	name, generate := strings.CutSuffix(strings.Trim(sub, "/"), "/generate")
	if generate {
		s.generatePassword(w, r, name)
		return
	}
	if !allow(w, r, http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete) {
		return
	}
	ctx := r.Context()
	switch r.Method {
	case http.MethodGet:
		text, ok, err := s.core.ReadPasswordPolicy(ctx, name)
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		if !ok {
			respondError(w, http.StatusNotFound, nil)
			return
		}
		respondJSON(w, http.StatusOK, envelope(map[string]any{"policy": text}))
	case http.MethodDelete:
		if err := s.core.DeletePasswordPolicy(ctx, name); err != nil {
			s.respondErr(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		body, err := decodeBody(r)
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		text, err := logical.StringParam(body, "policy")
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		if strings.TrimSpace(text) == "" {
			s.respondErr(w, r, &badRequest{"'policy' must hold the password policy (HCL)"})
			return
		}
		if err := s.core.WritePasswordPolicy(ctx, name, text); err != nil {
			s.respondErr(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) generatePassword(w http.ResponseWriter, r *http.Request, name string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	pw, err := s.core.GeneratePassword(r.Context(), name)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	respondJSON(w, http.StatusOK, envelope(map[string]any{"password": pw}))
}
