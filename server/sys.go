package server

import (
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/arca-secrets/arca/core"
)

// sysHandler answers one sys/ endpoint; sub is what follows its route
// prefix (for "mounts/secret/tune", route "mounts/" gets "secret/tune").
type sysHandler func(w http.ResponseWriter, r *http.Request, sub string)

func (s *Server) sysRoutes() map[string]sysHandler {
	return map[string]sysHandler{
		"init":                  s.handleInit,
		"unseal":                s.handleUnseal,
		"seal":                  s.handleSeal,
		"seal-status":           s.handleSealStatus,
		"health":                s.handleHealth,
		"leader":                s.handleLeader,
		"rotate":                s.handleRotate,
		"key-status":            s.handleKeyStatus,
		"rekey/init":            s.handleRekeyInit,
		"rekey/update":          s.handleRekeyUpdate,
		"mounts":                s.handleMounts,
		"mounts/":               s.handleMount,
		"auth":                  s.handleAuths,
		"auth/":                 s.handleAuth,
		"policy":                s.handlePolicyList,
		"policy/":               s.handlePolicyLegacy,
		"policies/acl":          s.handlePolicyList,
		"policies/acl/":         s.handlePolicy,
		"policies/password":     s.handlePasswordPolicyList,
		"policies/password/":    s.handlePasswordPolicy,
		"wrapping/":             s.handleWrapping,
		"audit":                 s.handleAuditList,
		"audit/":                s.handleAudit,
		"audit-hash/":           s.handleAuditHash,
		"leases/":               s.handleLeases,
		"renew":                 s.handleLegacyRenew,
		"renew/":                s.handleLegacyRenew,
		"revoke":                s.handleLegacyRevoke,
		"revoke/":               s.handleLegacyRevoke,
		"capabilities":          s.handleCapabilities,
		"capabilities-self":     s.handleCapabilities,
		"capabilities-accessor": s.handleCapabilities,
		"internal/ui/mounts/":   s.handleUIMount,
	}
}

func (s *Server) serveSys(w http.ResponseWriter, r *http.Request, path string) {
	if h, ok := s.sys[path]; ok {
		h(w, r, "")
		return
	}
	// Prefix routes: the longest that matches.
	best := ""
	for route := range s.sys {
		if strings.HasSuffix(route, "/") && strings.HasPrefix(path, route) && len(route) > len(best) {
			best = route
		}
	}
	if best == "" {
		respondError(w, http.StatusNotFound, errors.New("unsupported path: sys/"+path))
		return
	}
	s.sys[best](w, r, strings.TrimPrefix(path, best))
}

// allow answers 405 and returns false unless r's method is one of methods.
func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	if slices.Contains(methods, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	respondError(w, http.StatusMethodNotAllowed, errors.New("unsupported operation"))
	return false
}

// authorize checks that the request's token may perform op on the ACL
// path (such as "sys/mounts/secret"), and answers the error itself when
// it may not.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, path, op string) (*core.Caller, bool) {
	caller, err := s.core.Authorize(r.Context(), requestToken(r), path, op, nil, clientAddr(r))
	if err != nil {
		s.respondErr(w, r, err)
		return nil, false
	}
	return caller, true
}

// methodOp maps an HTTP method to a policy operation for sys endpoints.
func methodOp(r *http.Request) string {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if r.URL.Query().Get("list") == "true" {
			return "list"
		}
		return "read"
	case "LIST":
		return "list"
	case http.MethodDelete:
		return "delete"
	case http.MethodPatch:
		return "patch"
	}
	return "update"
}

// clientAddr is the client's IP address.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// envelope is Vault's response shape for secret-like answers.
func envelope(data any) map[string]any {
	return map[string]any{
		"request_id":     newRequestID(),
		"lease_id":       "",
		"renewable":      false,
		"lease_duration": 0,
		"data":           data,
		"wrap_info":      nil,
		"warnings":       nil,
		"auth":           nil,
	}
}
