package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/internal/wipehttp"
	"github.com/arca-secrets/arca/logical"
)

// wrapTTL reads X-Vault-Wrap-TTL; zero means "do not wrap".
func wrapTTL(r *http.Request) (time.Duration, error) {
	v := strings.TrimSpace(r.Header.Get("X-Vault-Wrap-TTL"))
	if v == "" {
		return 0, nil
	}
	d, _, err := logical.DurationParam(map[string]any{"X-Vault-Wrap-TTL": v}, "X-Vault-Wrap-TTL")
	if err != nil || d <= 0 {
		return 0, &badRequest{"X-Vault-Wrap-TTL must be a positive duration such as 5m or 300"}
	}
	return d, nil
}

// respondMaybeWrapped writes a 200 body, or, when the client asked for
// wrapping, stores it behind a wrapping token and writes the wrap_info.
func (s *Server) respondMaybeWrapped(w http.ResponseWriter, r *http.Request, path string, body map[string]any) {
	ttl, err := wrapTTL(r)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	if ttl == 0 {
		respondJSON(w, http.StatusOK, body)
		return
	}
	raw, err := json.Marshal(body)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	wrappedAccessor := ""
	if a, ok := body["auth"].(map[string]any); ok {
		wrappedAccessor, _ = a["accessor"].(string)
	}
	info, err := s.core.Wrap(r.Context(), raw, ttl, path, wrappedAccessor)
	clear(raw)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	out := envelope(nil)
	out["wrap_info"] = wrapInfoJSON(info)
	respondJSON(w, http.StatusOK, out)
}

func wrapInfoJSON(info *core.WrapInfo) map[string]any {
	return map[string]any{
		"token":            info.Token,
		"accessor":         info.Accessor,
		"ttl":              int64(info.TTL / time.Second),
		"creation_time":    info.CreationTime.UTC().Format(time.RFC3339Nano),
		"creation_path":    info.CreationPath,
		"wrapped_accessor": info.WrappedAccessor,
	}
}

// wrappingTarget is the wrapping token a request names: "token" in the
// body, or else the request's own token.
func wrappingTarget(r *http.Request, body map[string]any) string {
	if t, _ := body["token"].(string); t != "" {
		return t
	}
	return requestToken(r)
}

// handleWrapping serves sys/wrapping/{wrap,unwrap,lookup,rewrap}.
func (s *Server) handleWrapping(w http.ResponseWriter, r *http.Request, op string) {
	if !allow(w, r, http.MethodPost, http.MethodPut) {
		return
	}
	body, err := decodeBody(r)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	ctx := r.Context()
	switch op {
	case "wrap":
		if r.Header.Get("X-Vault-Wrap-TTL") == "" {
			r.Header.Set("X-Vault-Wrap-TTL", "5m")
		}
		s.respondMaybeWrapped(w, r, "sys/wrapping/wrap", envelope(body))
		return
	case "unwrap", "lookup", "rewrap":
	default:
		respondError(w, http.StatusNotFound, &badRequest{"unsupported path: sys/wrapping/" + op})
		return
	}
	// The pipeline has checked the request's own token: either a token
	// allowed the endpoint, with the wrapping token in the body, or the
	// wrapping token itself, which its policy allows exactly this.
	target := wrappingTarget(r, body)
	switch op {
	case "unwrap":
		raw, err := s.core.Unwrap(ctx, target)
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		wipehttp.WriteBody(w, http.StatusOK, raw)
		clear(raw)
	case "lookup":
		info, err := s.core.WrapLookup(ctx, target)
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		respondJSON(w, http.StatusOK, envelope(map[string]any{
			"creation_path": info.CreationPath,
			"creation_time": info.CreationTime.UTC().Format(time.RFC3339Nano),
			"creation_ttl":  int64(info.TTL / time.Second),
		}))
	case "rewrap":
		info, err := s.core.Rewrap(ctx, target)
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		out := envelope(nil)
		out["wrap_info"] = wrapInfoJSON(info)
		respondJSON(w, http.StatusOK, out)
	}
}
