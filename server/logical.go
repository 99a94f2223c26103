package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/token"
)

// operation maps an HTTP request to an engine operation, as Vault does:
// GET reads (or lists with ?list=true), LIST lists, POST and PUT write,
// PATCH patches, DELETE deletes.
func operation(r *http.Request) (logical.Operation, bool) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if l := r.URL.Query().Get("list"); l == "true" || l == "1" {
			return logical.ListOperation, true
		}
		return logical.ReadOperation, true
	case "LIST":
		return logical.ListOperation, true
	case http.MethodPost, http.MethodPut:
		return logical.UpdateOperation, true
	case http.MethodPatch:
		return logical.PatchOperation, true
	case http.MethodDelete:
		return logical.DeleteOperation, true
	}
	return "", false
}

func (s *Server) serveLogical(w http.ResponseWriter, r *http.Request, op logical.Operation, path string) {
	wrap, err := wrapTTL(r)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	req := &core.Request{
		Operation: op, Path: path, Token: requestToken(r), ClientAddr: clientAddr(r), WrapTTL: wrap,
		Body: s.bodyReader(w, r, op),
	}
	if r.TLS != nil {
		req.ClientCertificates = r.TLS.PeerCertificates
	}
	res, err := s.core.Serve(r.Context(), req)
	if err != nil {
		if errors.Is(err, core.ErrNoMount) {
			err = logical.Errorf(logical.ErrUnsupportedPath, "no handler for route %q: route entry not found", path)
		}
		s.respondErr(w, r, err)
		return
	}
	s.respondLogical(w, r, path, op, res)
}

func (s *Server) respondLogical(w http.ResponseWriter, r *http.Request, path string, op logical.Operation, res *core.Result) {
	if res == nil {
		res = &core.Result{}
	}
	resp := res.Response
	if res.Issued != nil {
		body := envelope(nil)
		body["auth"] = authJSON(res.Issued, s.core.Now())
		if resp != nil && len(resp.Warnings) > 0 {
			body["warnings"] = resp.Warnings
		}
		s.respondMaybeWrapped(w, r, path, body)
		return
	}
	if resp == nil {
		if op == logical.ReadOperation || op == logical.ListOperation {
			respondError(w, http.StatusNotFound, nil)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	body := envelope(resp.Data)
	if len(resp.Warnings) > 0 {
		body["warnings"] = resp.Warnings
	}
	if l := res.Lease; l != nil {
		body["lease_id"], body["renewable"] = l.ID, l.Renewable
		body["lease_duration"] = roundSeconds(l.TTL(s.core.Now()))
	}
	if resp.Data == nil && len(resp.Warnings) == 0 && !resp.NotFound {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if resp.NotFound {
		respondJSON(w, http.StatusNotFound, body)
		return
	}
	s.respondMaybeWrapped(w, r, path, body)
}

// authJSON is the "auth" block of a login or token creation.
func authJSON(e *token.Entry, now time.Time) map[string]any {
	var tokenPolicies []string
	for _, p := range e.Policies {
		tokenPolicies = append(tokenPolicies, p)
	}
	meta := any(nil)
	if len(e.Meta) > 0 {
		meta = e.Meta
	}
	return map[string]any{
		"client_token":      e.ID,
		"accessor":          e.Accessor,
		"policies":          e.Policies,
		"token_policies":    tokenPolicies,
		"identity_policies": nil,
		"metadata":          meta,
		"lease_duration":    roundSeconds(e.Remaining(now)),
		"renewable":         e.Renewable,
		"entity_id":         "",
		"token_type":        e.Type,
		"orphan":            e.Orphan,
		"mfa_requirement":   nil,
		"num_uses":          e.NumUses,
	}
}
