// Package server speaks the HashiCorp Vault HTTP API (/v1/...) over Arca's
// core, so that Vault and OpenBao clients work unchanged. It decodes
// requests, calls core with typed arguments, and encodes responses and
// errors ({"errors":[...]}) with Vault's status codes. It holds no state of
// its own.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/arca-secrets/arca/core"
)

// maxRequestSize bounds a request body, as Vault's default does (32 MiB).
const maxRequestSize = 32 << 20

// Config is what a Server is built from.
type Config struct {
	Core *core.Core
	// Logger receives request errors (never secrets); discarded when nil.
	Logger *slog.Logger
}

// Server is an http.Handler for the /v1/ API.
type Server struct {
	core *core.Core
	log  *slog.Logger
	sys  map[string]sysHandler
}

var _ http.Handler = (*Server)(nil)

// New returns a Server over cfg.Core.
func New(cfg Config) *Server {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{core: cfg.Core, log: log}
	s.sys = s.sysRoutes()
	return s
}

// ServeHTTP routes /v1/sys/... to the system handlers and every other
// /v1/ path to the mounted engines.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		// A bug must cost one request a 500, not the connection, and the
		// panic value (which may hold request data) stays in the log.
		if v := recover(); v != nil {
			s.log.Error("panic serving request", "path", r.URL.Path, "method", r.Method, "panic", fmt.Sprint(v))
			respondError(w, http.StatusInternalServerError, errors.New("internal error"))
		}
	}()
	w.Header().Set("Cache-Control", "no-store")
	path, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		respondError(w, http.StatusNotFound, errors.New("unsupported path: the API lives under /v1/"))
		return
	}
	// One spelling per path: no empty or dot segments anywhere, so that
	// what a policy names is what the handler serves.
	if strings.Contains(path, "//") || hasDotSegment(path) {
		respondError(w, http.StatusBadRequest, errors.New("invalid request path: empty or dot segments are not allowed"))
		return
	}
	if r.ContentLength > maxRequestSize {
		// Refused before a byte of the body is read.
		respondError(w, http.StatusRequestEntityTooLarge, errTooLarge)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestSize)
	if rest, ok := strings.CutPrefix(path, "sys/"); ok || path == "sys" {
		s.serveSys(w, r, rest)
		return
	}
	s.serveLogical(w, r, path)
}

// Serve answers HTTP on l until ctx is cancelled, then shuts down
// gracefully. With tlsConf it serves TLS.
func (s *Server) Serve(ctx context.Context, l net.Listener, tlsConf *tls.Config) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		TLSConfig:         tlsConf,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() {
		if tlsConf != nil {
			errc <- hs.ServeTLS(l, "", "")
			return
		}
		errc <- hs.Serve(l)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return hs.Shutdown(shutdownCtx)
	}
}
