package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/arca-secrets/arca/cluster"
	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/internal/vaultindex"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage/raft"
)

// Cluster is what the server needs of a node's part in a cluster.
type Cluster interface {
	Place(ctx context.Context, op logical.Operation, path string, forwarded bool) cluster.Placement
	Forward(w http.ResponseWriter, r *http.Request)
	IndexHeader() string
	AwaitIndex(ctx context.Context, index uint64) error
	AwaitLinearizable(ctx context.Context) error
	ReadIndex(ctx context.Context) (uint64, error)
	Status(ctx context.Context) cluster.Status
	Challenge(ctx context.Context, serverID string) (*cluster.ChallengeResponse, error)
	Answer(ctx context.Context, req cluster.AnswerRequest) (*cluster.AnswerResponse, error)
	Join(ctx context.Context, leaders []cluster.Leader, nonVoter, retry bool) error
	JoinPending() bool
	JoinSealStatus() core.SealStatus
	JoinUnseal(ctx context.Context, share []byte) (core.SealStatus, error)
	StepDown(ctx context.Context) (func(), error)
}

var _ Cluster = (*cluster.Node)(nil)

// serveInCluster serves a request on a node of a cluster: here, at the
// active node, or here from applied state with a forward to the active
// node if answering would write. Every answer carries X-Vault-Index.
func (s *Server) serveInCluster(w http.ResponseWriter, r *http.Request, op logical.Operation, path string) {
	w = &indexWriter{ResponseWriter: w, index: s.cluster.IndexHeader}
	// A linearizable read (ConsistencyHeader) of data, not of this
	// node's own sys/ state.
	linear := cluster.Linearizable(r) && (op == logical.ReadOperation || op == logical.ListOperation) && !strings.HasPrefix(path, "sys/")
	switch s.cluster.Place(r.Context(), op, path, forwarded(r)) {
	case cluster.Local:
		if linear && !s.core.Sealed() {
			if err := s.cluster.AwaitLinearizable(r.Context()); err != nil {
				s.respondErr(w, r, err)
				return
			}
		}
		s.dispatch(w, r, op, path)
	case cluster.Refuse:
		s.respondErr(w, r, cluster.ErrNotActive)
	case cluster.Forward:
		r.Body = http.MaxBytesReader(w, r.Body, s.limits.MaxRequestSize)
		s.cluster.Forward(w, r)
	case cluster.TryLocal:
		s.serveStandbyRead(w, r, op, path, linear)
	}
}

// serveStandbyRead serves a read on a standby once the client's
// X-Vault-Index is applied here; if it is not within the wait, the
// request goes to the active node, or with X-Vault-Inconsistent: fail
// is refused (412). An attempt that turns out to write (a token's use
// count, a lease), or that is refused (a token this node has not
// applied yet), is dropped unsent and forwarded.
func (s *Server) serveStandbyRead(w http.ResponseWriter, r *http.Request, op logical.Operation, path string, linear bool) {
	want, ok := vaultindex.Parse(r.Header.Values("X-Vault-Index"))
	if ok || linear {
		err := s.cluster.AwaitIndex(r.Context(), want)
		if err == nil && linear {
			err = s.cluster.AwaitLinearizable(r.Context())
		}
		if err != nil {
			if strings.EqualFold(r.Header.Get("X-Vault-Inconsistent"), "fail") {
				s.respondErr(w, r, err)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, s.limits.MaxRequestSize)
			s.cluster.Forward(w, r)
			return
		}
	}
	body, err := s.readBody(w, r, s.limits.MaxRequestSize)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	var wrote atomic.Bool
	rec := &bufferedWriter{header: http.Header{}, under: w}
	local := r.WithContext(context.WithValue(r.Context(), notLeaderKey{}, &wrote))
	local.Body = io.NopCloser(bytes.NewReader(body))
	s.dispatch(rec, local, op, path)
	// A 403 or a 404 here may only mean the token, a policy or the
	// entry is newer than this node's applied state: a standby never
	// says no from its own copy; the active node decides.
	if wrote.Load() || rec.code == http.StatusForbidden || rec.code == http.StatusNotFound {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		s.cluster.Forward(w, r)
		return
	}
	rec.flush(w)
}

type notLeaderKey struct{}

// noteNotLeader marks a standby's local attempt as one that tried to
// write: it is forwarded instead of answered.
func noteNotLeader(r *http.Request, err error) {
	if !errors.Is(err, raft.ErrNotLeader) {
		return
	}
	if f, ok := r.Context().Value(notLeaderKey{}).(*atomic.Bool); ok {
		f.Store(true)
	}
}

type forwardedKey struct{}

func forwarded(r *http.Request) bool {
	v, _ := r.Context().Value(forwardedKey{}).(bool)
	return v
}

// ForwardHandler serves the requests standbys forward over the cluster
// port (mutual TLS with the cluster CA, members only). The client's
// address is the one the standby saw; such a request is never forwarded
// again.
func (s *Server) ForwardHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ip := net.ParseIP(r.Header.Get(cluster.ForwardedForHeader)); ip != nil {
			r.RemoteAddr = net.JoinHostPort(ip.String(), "0")
		}
		r.Header.Del(cluster.ForwardedForHeader)
		var certs []*x509.Certificate
		for _, v := range r.Header.Values(cluster.ForwardedCertHeader) {
			der, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				continue
			}
			if c, err := x509.ParseCertificate(der); err == nil {
				certs = append(certs, c)
			}
		}
		r.Header.Del(cluster.ForwardedCertHeader)
		r.TLS = nil
		if len(certs) > 0 {
			r.TLS = &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: certs}
		}
		if r.URL.Path == cluster.ReadIndexPath {
			s.serveReadIndex(w, r)
			return
		}
		s.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), forwardedKey{}, true)))
	})
}

// serveReadIndex answers a standby's read-index request (cluster port
// only): the active node's applied index once a quorum confirms it
// leads.
func (s *Server) serveReadIndex(w http.ResponseWriter, r *http.Request) {
	idx, err := s.cluster.ReadIndex(r.Context())
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	respondJSON(w, http.StatusOK, map[string]uint64{"index": idx})
}

// indexWriter sets X-Vault-Index as the answer's header is written: the
// index applied by then covers the request's own write.
type indexWriter struct {
	http.ResponseWriter
	index func() string
	done  bool
}

func (w *indexWriter) WriteHeader(code int) {
	if !w.done {
		w.done = true
		if w.Header().Get("X-Vault-Index") == "" {
			w.Header().Set("X-Vault-Index", w.index())
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *indexWriter) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *indexWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// bufferedWriter holds a standby's local answer until it is known not
// to have needed a write.
type bufferedWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
	under  http.ResponseWriter
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.body.Write(p)
}

// Unwrap lets deadlines be set on the real connection.
func (b *bufferedWriter) Unwrap() http.ResponseWriter { return b.under }

func (b *bufferedWriter) flush(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	if b.code == 0 {
		b.code = http.StatusOK
	}
	w.WriteHeader(b.code)
	_, _ = w.Write(b.body.Bytes())
}

// handleHAStatus answers sys/ha-status in Vault's shape.
func (s *Server) handleHAStatus(w http.ResponseWriter, r *http.Request, _ string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	if s.cluster == nil {
		respondJSON(w, http.StatusOK, map[string]any{"nodes": []any{}})
		return
	}
	st := s.cluster.Status(r.Context())
	nodes := []any{}
	for _, p := range st.Peers {
		nodes = append(nodes, map[string]any{
			"hostname": p.ID, "cluster_address": p.Address, "active_node": p.ID == st.LeaderID && st.LeaderAddress != "",
			"api_address": map[bool]string{true: st.LeaderAddress}[p.ID == st.LeaderID], "voter": p.Voter,
		})
	}
	respondJSON(w, http.StatusOK, map[string]any{"nodes": nodes})
}

// handleRaftJoin serves sys/storage/raft/join: a new node asks a leader
// for a challenge. It takes no token, as in Vault: the node has no data
// and no tokens yet, and it gains nothing until it is unsealed with the
// cluster's keys.
func (s *Server) handleRaftJoin(w http.ResponseWriter, r *http.Request, _ string) {
	if !allowRaft(w, r, s.cluster != nil, http.MethodPost, http.MethodPut) {
		return
	}
	var req struct {
		LeaderAPIAddr    string `json:"leader_api_addr"`
		LeaderCACert     string `json:"leader_ca_cert"`
		LeaderClientCert string `json:"leader_client_cert"`
		LeaderClientKey  string `json:"leader_client_key"`
		Retry            bool   `json:"retry"`
		NonVoter         bool   `json:"non_voter"`
	}
	if err := decodeInto(r, &req); err != nil {
		s.respondErr(w, r, err)
		return
	}
	if req.LeaderAPIAddr == "" {
		s.respondErr(w, r, &badRequest{"'leader_api_addr' is required"})
		return
	}
	l := cluster.Leader{APIAddr: req.LeaderAPIAddr, CACert: []byte(req.LeaderCACert), ClientCert: []byte(req.LeaderClientCert), ClientKey: []byte(req.LeaderClientKey)}
	if err := s.cluster.Join(r.Context(), []cluster.Leader{l}, req.NonVoter, req.Retry); err != nil {
		s.respondErr(w, r, err)
		return
	}
	respondJSON(w, http.StatusOK, map[string]any{"joined": true})
}

// handleRaftChallenge serves sys/storage/raft/bootstrap/challenge on the
// active node (a standby forwards it).
func (s *Server) handleRaftChallenge(w http.ResponseWriter, r *http.Request, _ string) {
	if !allowRaft(w, r, s.cluster != nil, http.MethodPost, http.MethodPut) {
		return
	}
	var req struct {
		ServerID string `json:"server_id"`
	}
	if err := decodeInto(r, &req); err != nil {
		s.respondErr(w, r, err)
		return
	}
	resp, err := s.cluster.Challenge(r.Context(), req.ServerID)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	respondJSON(w, http.StatusOK, resp)
}

// handleRaftAnswer serves sys/storage/raft/bootstrap/answer.
func (s *Server) handleRaftAnswer(w http.ResponseWriter, r *http.Request, _ string) {
	if !allowRaft(w, r, s.cluster != nil, http.MethodPost, http.MethodPut) {
		return
	}
	var req cluster.AnswerRequest
	if err := decodeInto(r, &req); err != nil {
		s.respondErr(w, r, err)
		return
	}
	resp, err := s.cluster.Answer(r.Context(), req)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	respondJSON(w, http.StatusOK, resp)
}

// leaderJSON is sys/leader's answer.
func (s *Server) leaderJSON(ctx context.Context) map[string]any {
	out := map[string]any{
		"ha_enabled": false, "is_self": false, "active_time": "0001-01-01T00:00:00Z",
		"leader_address": "", "leader_cluster_address": "", "performance_standby": false,
		"performance_standby_last_remote_wal": 0, "raft_committed_index": 0, "raft_applied_index": 0,
	}
	if s.cluster == nil {
		return out
	}
	st := s.cluster.Status(ctx)
	out["ha_enabled"], out["is_self"] = true, st.IsSelf
	out["leader_address"], out["leader_cluster_address"] = st.LeaderAddress, st.LeaderClusterAddr
	if !st.ActiveTime.IsZero() {
		out["active_time"] = st.ActiveTime.Format(time.RFC3339Nano)
	}
	out["raft_committed_index"], out["raft_applied_index"] = st.CommitIndex, st.AppliedIndex
	return out
}

// healthStandby is sys/health's code for a standby: 429, or 200 with
// standbyok, or the standbycode asked for.
func healthStandby(q map[string][]string) (int, error) {
	if v := first(q["standbycode"]); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 || n > 599 {
			return 0, &badRequest{"invalid value for standbycode: must be an HTTP status code"}
		}
		return n, nil
	}
	if ok, _ := strconv.ParseBool(first(q["standbyok"])); ok {
		return http.StatusOK, nil
	}
	return http.StatusTooManyRequests, nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
