package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/arca-secrets/arca/lease"
	"github.com/arca-secrets/arca/logical"
)

func leaseJSON(l *lease.Lease, now time.Time) map[string]any {
	var last any
	if !l.LastRenewal.IsZero() {
		last = l.LastRenewal.Format(time.RFC3339Nano)
	}
	return map[string]any{
		"id":                l.ID,
		"issue_time":        l.IssueTime.Format(time.RFC3339Nano),
		"expire_time":       l.ExpireTime.Format(time.RFC3339Nano),
		"last_renewal_time": last,
		"renewable":         l.Renewable,
		"ttl":               roundSeconds(l.TTL(now)),
	}
}

// leaseID reads the lease from the path after the route, or from
// lease_id in the body. When both name one they must agree: the policy
// judged the path, and the handler must not act on another lease.
func leaseID(body map[string]any, sub string) (string, error) {
	fromBody, err := logical.StringParam(body, "lease_id")
	if err != nil {
		return "", err
	}
	fromPath := strings.Trim(sub, "/")
	switch {
	case fromPath != "" && fromBody != "" && fromBody != fromPath:
		return "", &badRequest{"the lease_id in the body differs from the lease in the path"}
	case fromPath != "":
		return fromPath, nil
	case fromBody != "":
		return fromBody, nil
	}
	return "", &badRequest{"'lease_id' must be given"}
}

// handleLeases serves sys/leases/* (and the older sys/renew, sys/revoke).
func (s *Server) handleLeases(w http.ResponseWriter, r *http.Request, sub string) {
	op, rest, _ := strings.Cut(sub, "/")
	if !allow(w, r, http.MethodPut, http.MethodPost, http.MethodGet, "LIST") {
		return
	}
	isList := r.Method == "LIST" || (r.Method == http.MethodGet && r.URL.Query().Get("list") == "true")
	if op == "lookup" && isList {
		keys, err := s.core.LeaseList(r.Context(), rest)
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		if len(keys) == 0 {
			respondError(w, http.StatusNotFound, nil)
			return
		}
		respondJSON(w, http.StatusOK, envelope(map[string]any{"keys": keys}))
		return
	}
	if r.Method == http.MethodGet || r.Method == "LIST" {
		respondError(w, http.StatusMethodNotAllowed, &badRequest{"unsupported operation"})
		return
	}
	body, err := decodeBody(r)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	ctx := r.Context()
	switch op {
	case "lookup":
		id, err := leaseID(body, rest)
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		l, err := s.core.LeaseLookup(ctx, id)
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		respondJSON(w, http.StatusOK, envelope(leaseJSON(l, s.core.Now())))
	case "renew":
		id, err := leaseID(body, rest)
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		inc, _, err := logical.DurationParam(body, "increment")
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		l, err := s.core.LeaseRenew(ctx, id, inc)
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		out := envelope(nil)
		out["lease_id"], out["renewable"], out["lease_duration"] = l.ID, l.Renewable, roundSeconds(l.TTL(s.core.Now()))
		respondJSON(w, http.StatusOK, out)
	case "revoke":
		id, err := leaseID(body, rest)
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		if err := s.core.LeaseRevoke(ctx, id); err != nil {
			s.respondErr(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case "revoke-prefix", "revoke-force":
		// sync (Vault's; true unless said): false queues the revocation
		// on the active node and answers 202 at once.
		sync, given, err := logical.BoolParam(body, "sync")
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		force := op == "revoke-force"
		if given && !sync {
			if err := s.core.LeaseRevokePrefixQueued(rest, force); err != nil {
				s.respondErr(w, r, err)
				return
			}
			w.WriteHeader(http.StatusAccepted)
			return
		}
		if _, err := s.core.LeaseRevokePrefix(ctx, rest, force); err != nil {
			s.respondErr(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case "tidy":
		w.WriteHeader(http.StatusNoContent)
	default:
		respondError(w, http.StatusNotFound, &badRequest{"unsupported path: sys/leases/" + sub})
	}
}

// roundSeconds is d in whole seconds, rounded: a lease just granted for an
// hour shows 3600, not 3599.
func roundSeconds(d time.Duration) int64 { return int64((d + time.Second/2) / time.Second) }
