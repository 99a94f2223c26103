package server

import (
	"net/http"
	"strings"

	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/logical"
)

// handleAuditList answers GET sys/audit.
func (s *Server) handleAuditList(w http.ResponseWriter, r *http.Request, _ string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	devices, err := s.core.AuditDevices(r.Context())
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	data := map[string]any{}
	for _, d := range devices {
		data[d.Name+"/"] = map[string]any{
			"type": d.Type, "description": d.Description, "options": d.Options, "path": d.Name + "/", "local": false,
		}
	}
	body := envelope(data)
	for k, v := range data {
		body[k] = v
	}
	respondJSON(w, http.StatusOK, body)
}

// handleAudit serves sys/audit/<name>: PUT enables, DELETE disables.
func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request, name string) {
	if !allow(w, r, http.MethodPost, http.MethodPut, http.MethodDelete) {
		return
	}
	name = strings.Trim(name, "/")
	if r.Method == http.MethodDelete {
		if err := s.core.DisableAuditAPI(r.Context(), name); err != nil {
			s.respondErr(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	body, err := decodeBody(r)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	d := core.AuditDevice{Name: name}
	if d.Type, err = logical.StringParam(body, "type"); err != nil {
		s.respondErr(w, r, err)
		return
	}
	if d.Description, err = logical.StringParam(body, "description"); err != nil {
		s.respondErr(w, r, err)
		return
	}
	if d.Options, err = stringMapParam(body, "options"); err != nil {
		s.respondErr(w, r, err)
		return
	}
	if err := s.core.EnableAuditAPI(r.Context(), d); err != nil {
		s.respondErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleAuditHash answers sys/audit-hash/<name> {input}: the HMAC the
// device writes for a value, so an operator can search the log for it.
func (s *Server) handleAuditHash(w http.ResponseWriter, r *http.Request, name string) {
	if !allow(w, r, http.MethodPost, http.MethodPut) {
		return
	}
	name = strings.Trim(name, "/")
	body, err := decodeBody(r)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	input, err := logical.StringParam(body, "input")
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	h, err := s.core.AuditHash(name, input)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	out := envelope(map[string]any{"hash": h})
	out["hash"] = h
	respondJSON(w, http.StatusOK, out)
}
