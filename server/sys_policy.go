package server

import (
	"encoding/base64"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/arca-secrets/arca/logical"
)

// handlePolicyList answers GET sys/policy and LIST sys/policies/acl.
func (s *Server) handlePolicyList(w http.ResponseWriter, r *http.Request, _ string) {
	if !allow(w, r, http.MethodGet, "LIST") {
		return
	}
	names, err := s.core.PolicyNames(r.Context())
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	data := map[string]any{"keys": names, "policies": names}
	body := envelope(data)
	body["keys"], body["policies"] = names, names
	respondJSON(w, http.StatusOK, body)
}

// handlePolicy serves sys/policies/acl/<name> (text in "policy") and
// its older spelling sys/policy/<name> (text in "rules"), which the
// canonical path turns into the former: one ACL path for one policy.
func (s *Server) handlePolicy(w http.ResponseWriter, r *http.Request, name string) {
	field := "policy"
	if strings.HasPrefix(r.URL.Path, "/v1/sys/policy/") {
		field = "rules"
	}
	s.servePolicy(w, r, "sys/policies/acl/", name, field)
}

func (s *Server) servePolicy(w http.ResponseWriter, r *http.Request, api, name, field string) {
	if !allow(w, r, http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete) {
		return
	}
	name = strings.Trim(name, "/")
	ctx := r.Context()
	switch r.Method {
	case http.MethodGet:
		text, ok, err := s.core.ReadPolicy(ctx, name)
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		if !ok {
			respondError(w, http.StatusNotFound, nil)
			return
		}
		data := map[string]any{"name": strings.ToLower(name), field: text}
		body := envelope(data)
		if field == "rules" {
			body["name"], body["rules"] = data["name"], text
		}
		respondJSON(w, http.StatusOK, body)
	case http.MethodDelete:
		if err := s.core.DeletePolicy(ctx, name); err != nil {
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
		text, err := policyText(body, field)
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		if err := s.core.WritePolicy(ctx, name, text); err != nil {
			s.respondErr(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// policyText reads the policy from field (or the other name), accepting
// base64 as Vault does.
func policyText(body map[string]any, field string) (string, error) {
	text, err := logical.StringParam(body, field)
	if err != nil {
		return "", err
	}
	if text == "" {
		other := map[string]string{"rules": "policy", "policy": "rules"}[field]
		if text, err = logical.StringParam(body, other); err != nil {
			return "", err
		}
	}
	if strings.TrimSpace(text) == "" {
		return "", &badRequest{"'" + field + "' must hold the policy text"}
	}
	if b, err := base64.StdEncoding.DecodeString(text); err == nil && utf8.Valid(b) && strings.Contains(string(b), "path") {
		text = string(b)
	}
	return text, nil
}

// handleCapabilities answers sys/capabilities, capabilities-self and
// capabilities-accessor.
func (s *Server) handleCapabilities(w http.ResponseWriter, r *http.Request, _ string) {
	if !allow(w, r, http.MethodPost, http.MethodPut) {
		return
	}
	api := callOf(r).Path
	caller := callOf(r).Caller
	body, err := decodeBody(r)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	paths, err := logical.StringListParam(body, "paths")
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	if p, _ := logical.StringParam(body, "path"); p != "" {
		paths = append(paths, p)
	}
	if len(paths) == 0 {
		s.respondErr(w, r, &badRequest{"'paths' must name at least one path"})
		return
	}
	subject := caller.Token
	switch api {
	case "sys/capabilities":
		id, _ := logical.StringParam(body, "token")
		if subject, err = s.core.CheckToken(r.Context(), id); err != nil {
			s.respondErr(w, r, &badRequest{"invalid token"})
			return
		}
	case "sys/capabilities-accessor":
		acc, _ := logical.StringParam(body, "accessor")
		if subject, err = s.core.LookupAccessor(r.Context(), acc); err != nil {
			s.respondErr(w, r, &badRequest{"invalid accessor"})
			return
		}
	}
	caps, err := s.core.Capabilities(r.Context(), subject, paths)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	data := map[string]any{}
	for p, c := range caps {
		data[p] = c
	}
	if len(paths) == 1 {
		data["capabilities"] = caps[paths[0]]
	}
	body2 := envelope(data)
	for k, v := range data {
		body2[k] = v
	}
	respondJSON(w, http.StatusOK, body2)
}
