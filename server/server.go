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
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/events"
	"github.com/arca-secrets/arca/internal/wipehttp"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/metrics"
)

// Config is what a Server is built from.
type Config struct {
	Core *core.Core
	// Logger receives request errors (never secrets); discarded when nil.
	Logger *slog.Logger
	// Limits are the listener's request limits (zero fields: defaults).
	Limits Limits
	// Metrics counts requests and serves sys/metrics; nil: none.
	Metrics *metrics.Registry
	// Raft administers integrated storage (sys/storage/raft/*); nil when
	// the storage is not raft.
	Raft RaftStorage
	// Events serves sys/events/subscribe; nil: the server has no events.
	Events *events.Bus
	// Cluster is the node's part in a Raft cluster: forwarding, standby
	// reads, joins, who is active. Nil: a node alone.
	Cluster Cluster
}

// Server is an http.Handler for the /v1/ API.
type Server struct {
	core    *core.Core
	log     *slog.Logger
	limits  Limits
	metrics *metrics.Registry
	raft    RaftStorage
	events  *events.Bus
	cluster Cluster
	// inFlight holds a slot per request being served.
	inFlight chan struct{}
	sys      map[string]sysRoute
}

var _ http.Handler = (*Server)(nil)

// New returns a Server over cfg.Core.
func New(cfg Config) *Server {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	limits := cfg.Limits.withDefaults()
	s := &Server{core: cfg.Core, log: log, limits: limits, metrics: cfg.Metrics, raft: cfg.Raft, events: cfg.Events, cluster: cfg.Cluster, inFlight: make(chan struct{}, limits.MaxConcurrentRequests)}
	s.sys = s.sysRoutes()
	return s
}

// bodyReadTimeout bounds the reading of a request (headers and body)
// when max_request_duration allows longer.
const bodyReadTimeout = 30 * time.Second

// onEOF calls f once, when the body it wraps is read to its end.
type onEOF struct {
	io.ReadCloser
	f    func()
	done bool
}

func (b *onEOF) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		b.f()
	}
	return n, err
}

// errBusy: the listener is at max_concurrent_requests (503).
var errBusy = errors.New("the server is at its limit of concurrent requests; retry shortly")

// ServeHTTP serves a request and counts it in the metrics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Freed memory is overwritten by the collector (GODEBUG=clobberfree=1,
	// see secmem.ClobberFreed); what net/http keeps alive is cleared by
	// wipehttp.
	mark := &eraseMark{}
	defer func() {
		if mark.now {
			// The request sealed the server: its keys and everything the
			// requests before it left are garbage now; collect it so that
			// it is overwritten at once rather than at the next
			// collection, which an idle sealed server may not run for
			// minutes. Twice: the first collection moves pooled buffers
			// (encoding/json's) aside, the second frees them.
			runtime.GC()
			runtime.GC()
		}
	}()
	wipehttp.TakeCredentials(r)
	defer wipehttp.DropCredentials(r)
	s.serveMeasured(w, r.WithContext(context.WithValue(r.Context(), eraseKey{}, mark)))
}

func (s *Server) serveMeasured(w http.ResponseWriter, r *http.Request) {
	if s.metrics == nil {
		s.serve(w, r)
		return
	}
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	s.serve(sw, r)
	s.metrics.ObserveRequest(routeClass(r.URL.Path), sw.code(), time.Since(start))
}

// serve decodes the path and operation, settles the path's one canonical
// spelling, and hands the request to the pipeline: sys/ routes and
// mounted engines alike.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	defer func() {
		// A bug must cost one request a 500, not the connection, and the
		// panic value (which may hold request data) stays in the log.
		if v := recover(); v != nil {
			s.log.Error("panic serving request", "path", r.URL.Path, "method", r.Method, "panic", fmt.Sprint(v))
			respondError(w, http.StatusInternalServerError, errors.New("internal error"))
		}
	}()
	w.Header().Set("Cache-Control", "no-store")
	sl := &slot{pool: s.inFlight}
	if !sl.take() {
		w.Header().Set("Retry-After", "1")
		respondError(w, http.StatusServiceUnavailable, errBusy)
		return
	}
	defer sl.release()
	// max_request_duration bounds the whole request, the reading of a
	// body that trickles in included.
	deadline := time.Now().Add(s.limits.MaxRequestDuration)
	readBy := time.Now().Add(bodyReadTimeout)
	if deadline.Before(readBy) {
		readBy = deadline
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(readBy)
	// Once the body is read, the connection's read deadline is the
	// request's own: net/http cancels a request whose connection read
	// times out, so the 30s for the body would cut off a revoke-prefix
	// that runs longer, within max_request_duration.
	r.Body = &onEOF{ReadCloser: r.Body, f: func() { _ = rc.SetReadDeadline(deadline) }}
	ctx, cancel := context.WithDeadline(context.WithValue(r.Context(), slotKey{}, sl), deadline)
	defer cancel()
	r = r.WithContext(ctx)
	raw, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		respondError(w, http.StatusNotFound, errors.New("unsupported path: the API lives under /v1/"))
		return
	}
	op, ok := operation(r)
	if !ok {
		respondError(w, http.StatusMethodNotAllowed, errors.New("unsupported operation"))
		return
	}
	if r.ContentLength > s.limits.MaxRequestSize {
		// Refused before a byte of the body is read.
		respondError(w, http.StatusRequestEntityTooLarge, &tooLarge{s.limits.MaxRequestSize})
		return
	}
	// One spelling per path: what the ACL judges is what the handler
	// serves, sys/ included.
	path, err := s.core.CanonicalPath(raw, op)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	if s.cluster != nil {
		s.serveInCluster(w, r, op, path)
		return
	}
	s.dispatch(w, r, op, path)
}

// dispatch hands a request with its canonical path to the sys/ routes or
// to the mounted engines.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, op logical.Operation, path string) {
	if rest, ok := strings.CutPrefix(path, "sys/"); ok {
		s.serveSys(w, r, op, rest)
		return
	}
	s.serveLogical(w, r, op, path)
}

// Serve answers HTTP on l until ctx is cancelled, then shuts down
// gracefully. With tlsConf it serves TLS.
func (s *Server) Serve(ctx context.Context, l net.Listener, tlsConf *tls.Config) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       bodyReadTimeout,
		IdleTimeout:       5 * time.Minute,
		TLSConfig:         tlsConf,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// An event stream bounds its connection's kernel buffer.
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, netConnKey{}, c) },
	}
	errc := make(chan error, 1)
	go func() {
		if tlsConf == nil {
			l = wipehttp.Listener{Listener: l}
		}
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
