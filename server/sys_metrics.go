package server

import (
	"errors"
	"net/http"
	"net/http/pprof"
	"strings"
)

// routeClass is a request's class for the metrics: never its path, which
// may name a secret.
func routeClass(urlPath string) string {
	switch {
	case strings.HasPrefix(urlPath, "/v1/sys/"):
		return "sys"
	case strings.HasPrefix(urlPath, "/v1/auth/"):
		return "auth"
	case strings.HasPrefix(urlPath, "/v1/"):
		return "secret"
	}
	return "other"
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// handleMetrics serves sys/metrics: JSON, or Prometheus' text format
// with ?format=prometheus.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, _ string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	if s.metrics == nil {
		respondError(w, http.StatusNotFound, errors.New("metrics are not collected by this server"))
		return
	}
	if r.URL.Query().Get("format") == "prometheus" {
		text, err := s.metrics.PrometheusText()
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = w.Write(text)
		return
	}
	body, err := s.metrics.JSON()
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	respondJSON(w, http.StatusOK, body)
}

// handlePprof serves sys/pprof/* (Go's profiles) to root tokens only.
// The command line is not served: it may carry a dev root token's ID.
func (s *Server) handlePprof(w http.ResponseWriter, r *http.Request, name string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	if call := callOf(r); call == nil || call.Caller == nil || !call.Caller.Token.IsRoot() {
		respondError(w, http.StatusForbidden, errors.New("permission denied: profiles are for root tokens"))
		return
	}
	switch name {
	case "", "index":
		pprof.Index(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	case "cmdline":
		respondError(w, http.StatusNotFound, errors.New("the command line is not served"))
	default:
		pprof.Handler(name).ServeHTTP(w, r)
	}
}
