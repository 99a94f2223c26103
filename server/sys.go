package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/logical"
)

// sysHandler answers one sys/ endpoint; sub is what follows its route
// prefix (for "mounts/secret/tune", route "mounts/" gets "secret/tune").
type sysHandler func(w http.ResponseWriter, r *http.Request, sub string)

// sysRoute is one sys endpoint. Every route but the open ones runs
// inside core's pipeline (canonical path, sealed, token, ACL with the
// request's operation and parameters, audit of request and response):
// its handler never checks a token or a policy itself.
type sysRoute struct {
	handle sysHandler
	kind   routeKind
	// raw routes read their body themselves (a snapshot is not JSON);
	// the ACL judges them without parameters.
	raw bool
}

// routeKind says how much of the pipeline a sys route takes.
type routeKind int

const (
	// authenticated routes take all of it.
	authenticated routeKind = iota
	// audited routes need no token but are audited (the lookup of a
	// wrapping token, whose holder is its authority, as in Vault).
	audited
	// open routes need no token and answer outside the pipeline: the
	// seal's own endpoints and health, which must answer while sealed,
	// when there is nothing to audit with.
	open
)

func (s *Server) sysRoutes() map[string]sysRoute {
	opened := func(h sysHandler) sysRoute { return sysRoute{handle: h, kind: open} }
	authed := func(h sysHandler) sysRoute { return sysRoute{handle: h} }
	// Rekey needs no token only where a listener says so
	// (disable_unauthed_rekey_endpoints = false); otherwise it is an
	// audited route that needs sudo, as in OpenBao.
	rekey := authed
	if s.limits.AllowUnauthedRekey {
		rekey = opened
	}
	// Metrics need a token with read on sys/metrics unless the listener
	// sets telemetry { unauthenticated_metrics_access = true }.
	metricsRoute := authed(s.handleMetrics)
	if s.limits.UnauthenticatedMetrics {
		metricsRoute = opened(s.handleMetrics)
	}
	// So is generate-root (disable_unauthed_generate_root_endpoints).
	genRoot := authed
	if s.limits.AllowUnauthedGenerateRoot {
		genRoot = opened
	}
	routes := map[string]sysRoute{
		"init":                             opened(s.handleInit),
		"unseal":                           opened(s.handleUnseal),
		"seal-status":                      opened(s.handleSealStatus),
		"health":                           opened(s.handleHealth),
		"leader":                           opened(s.handleLeader),
		"ha-status":                        authed(s.handleHAStatus),
		"storage/raft/join":                opened(s.handleRaftJoin),
		"storage/raft/bootstrap/challenge": opened(s.handleRaftChallenge),
		"storage/raft/bootstrap/answer":    opened(s.handleRaftAnswer),
		"wrapping/lookup":                  {handle: func(w http.ResponseWriter, r *http.Request, _ string) { s.handleWrapping(w, r, "lookup") }, kind: audited},
		"rekey/init":                       rekey(s.rekeyTarget(false, s.handleRekeyInit)),
		"rekey/update":                     rekey(s.rekeyTarget(false, s.handleRekeyUpdate)),
		"rekey-recovery-key/init":          rekey(s.rekeyTarget(true, s.handleRekeyInit)),
		"rekey-recovery-key/update":        rekey(s.rekeyTarget(true, s.handleRekeyUpdate)),
		"seal":                             authed(s.handleSeal),
		"rotate":                           authed(s.handleRotate),
		"key-status":                       authed(s.handleKeyStatus),
		"mounts":                           authed(s.handleMounts),
		"mounts/":                          authed(s.handleMount),
		"auth":                             authed(s.handleAuths),
		"auth/":                            authed(s.handleAuth),
		"policy":                           authed(s.handlePolicyList),
		"policies/acl":                     authed(s.handlePolicyList),
		"policies/acl/":                    authed(s.handlePolicy),
		"policies/password":                authed(s.handlePasswordPolicyList),
		"policies/password/":               authed(s.handlePasswordPolicy),
		"wrapping/":                        authed(s.handleWrapping),
		"audit":                            authed(s.handleAuditList),
		"audit/":                           authed(s.handleAudit),
		"audit-hash/":                      authed(s.handleAuditHash),
		"leases/":                          authed(s.handleLeases),
		"capabilities":                     authed(s.handleCapabilities),
		"capabilities-self":                authed(s.handleCapabilities),
		"capabilities-accessor":            authed(s.handleCapabilities),
		"internal/ui/mounts":               authed(s.handleUIMounts),
		"metrics":                          metricsRoute,
		"pprof":                            authed(s.handlePprof),
		"storage/raft/configuration":       authed(s.handleRaftConfiguration),
		"storage/raft/remove-peer":         authed(s.handleRaftRemovePeer),
		"storage/raft/snapshot":            {handle: s.handleRaftSnapshot, raw: true},
		"storage/raft/snapshot-force":      {handle: s.handleRaftSnapshotForce, raw: true},
		"step-down":                        authed(s.handleStepDown),
		"pprof/":                           authed(s.handlePprof),
		"internal/ui/mounts/":              authed(s.handleUIMount),
		"events/subscribe/":                authed(s.handleEventsSubscribe),
	}
	for path, h := range s.generateRootHandlers() {
		routes[path] = genRoot(h)
	}
	return routes
}

// routeFor finds the route of a canonical sys path (without "sys/") and
// what follows its prefix.
func (s *Server) routeFor(path string) (sysRoute, string, bool) {
	// A list's canonical path ends in "/": "policies/acl/" is the list
	// route "policies/acl", not its prefix route with an empty name.
	if rt, ok := s.sys[strings.TrimSuffix(path, "/")]; ok {
		return rt, "", true
	}
	// Prefix routes: the longest that matches.
	best := ""
	for route := range s.sys {
		if strings.HasSuffix(route, "/") && strings.HasPrefix(path, route) && len(route) > len(best) {
			best = route
		}
	}
	if best == "" {
		return sysRoute{}, "", false
	}
	return s.sys[best], strings.TrimPrefix(path, best), true
}

// serveSys serves a sys endpoint; path is canonical, without "sys/".
func (s *Server) serveSys(w http.ResponseWriter, r *http.Request, op logical.Operation, path string) {
	rt, sub, ok := s.routeFor(path)
	if !ok {
		respondError(w, http.StatusNotFound, errors.New("unsupported path: sys/"+path))
		return
	}
	if rt.kind == open {
		raw, err := s.readBody(w, r, s.limits.unauthenticatedBody())
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(raw))
		rt.handle(w, r, sub)
		return
	}
	wrap, err := wrapTTL(r)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	rec := newRecorder()
	req := &core.Request{
		Operation: op, Path: "sys/" + path, Token: requestToken(r), ClientAddr: clientAddr(r), WrapTTL: wrap,
		Body: s.bodyReader(w, r, op),
	}
	if rt.raw {
		req.Body = nil
	}
	serve := s.core.ServeSys
	if rt.kind == audited {
		serve = s.core.ServeSysOpen
	}
	err = serve(r.Context(), req, func(ctx context.Context, call *core.Call) (map[string]any, error) {
		rt.handle(rec, withCall(r.WithContext(ctx), call), sub)
		return rec.auditData()
	})
	var answered *recordedAnswer
	if err != nil && !errors.As(err, &answered) {
		s.respondErr(w, r, err)
		return
	}
	if rec.stream != nil && err == nil {
		rec.stream(w, r)
		return
	}
	rec.flush(w)
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
