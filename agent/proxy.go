package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/arca-secrets/arca/agent/attest"
)

// forwardedHeaders are the only request headers passed to the server: a
// workload's own X-Vault-Token or Authorization never is.
var forwardedHeaders = []string{"Content-Type", "Accept", "X-Vault-Wrap-Ttl", "X-Vault-Request", "X-Vault-Wrap-Format"}

type connKey struct{}

// connInfo is what the agent knows about a connection from accept.
type connInfo struct {
	conn     *net.UnixConn
	accepted uint64
}

// workloadHandler serves the UNIX socket: it attests every request's
// caller, and forwards it with the token of the caller's role.
type workloadHandler struct {
	a *Agent
}

func (h *workloadHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := h.a
	if !strings.HasPrefix(r.URL.Path, "/v1/") || strings.Contains(r.URL.Path, "/../") {
		writeErr(w, http.StatusNotFound, "the agent serves only the Vault API under /v1/")
		return
	}
	ci, _ := r.Context().Value(connKey{}).(*connInfo)
	if ci == nil {
		writeErr(w, http.StatusInternalServerError, "no connection information")
		return
	}
	id, err := attest.Peer(ci.conn, ci.accepted)
	if err != nil {
		a.log.Warn("refused a caller", "reason", err.Error(), "path", r.URL.Path)
		writeErr(w, http.StatusForbidden, "arca agent: "+err.Error())
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeErr(w, http.StatusRequestEntityTooLarge, "request body too large or unreadable")
		return
	}
	hdr := http.Header{}
	for _, k := range forwardedHeaders {
		if v := r.Header.Values(k); len(v) > 0 {
			hdr[k] = v
		}
	}
	method := r.Method
	if method == http.MethodGet && a.kv != nil {
		if rep := a.kv.get(id.Key(), r.URL.RequestURI()); rep != nil {
			writeReply(w, rep, "")
			a.log.Debug("served from cache", "caller", id.String(), "path", r.URL.Path)
			return
		}
	}
	tok, cached, err := a.tokens.get(r.Context(), id)
	if err != nil {
		h.refuseLogin(w, id, err)
		return
	}
	rep, err := a.up.do(r.Context(), method, r.URL.Path, r.URL.RawQuery, tok, hdr, body)
	if err == nil && rep.status == http.StatusForbidden && cached {
		// The role may have changed (its tokens are revoked): log in again.
		a.tokens.drop(id.Key())
		if tok, _, err = a.tokens.get(r.Context(), id); err != nil {
			h.refuseLogin(w, id, err)
			return
		}
		rep, err = a.up.do(r.Context(), method, r.URL.Path, r.URL.RawQuery, tok, hdr, body)
	}
	if err != nil {
		a.log.Warn("forwarding failed", "caller", id.String(), "path", r.URL.Path, "error", err)
		writeErr(w, http.StatusBadGateway, "arca agent: the server is unreachable")
		return
	}
	a.log.Info("workload request", "caller", id.String(), "method", method, "path", r.URL.Path, "status", rep.status)
	if method != http.MethodGet && a.kv != nil {
		a.kv.forget(id.Key())
	}
	if rep.status == http.StatusOK {
		if l := leaseOf(rep.body); l.id != "" {
			if l.renewable {
				a.leases.keep(id.PID, tok, l)
			}
		} else if method == http.MethodGet && a.kv != nil {
			a.kv.put(id.Key(), r.URL.RequestURI(), rep)
		}
	}
	writeReply(w, rep, tok)
}

// refuseLogin answers a caller the server would not log in, with the
// server's reason (which names the identity it saw) and what the agent
// could not read.
func (h *workloadHandler) refuseLogin(w http.ResponseWriter, id *attest.Identity, err error) {
	var se *serverError
	switch {
	case errors.Is(err, errNotReady):
		writeErr(w, http.StatusServiceUnavailable, "arca agent: "+err.Error())
	case errors.As(err, &se) && se.status < 500:
		msg := strings.Join(se.msgs, "; ")
		if len(id.Notes) > 0 {
			msg += " (agent: " + strings.Join(id.Notes, "; ") + ")"
		}
		h.a.log.Info("workload refused", "caller", id.String(), "reason", msg)
		writeErr(w, http.StatusForbidden, msg)
	default:
		h.a.log.Warn("workload login failed", "caller", id.String(), "error", err)
		writeErr(w, http.StatusBadGateway, "arca agent: the server is unreachable")
	}
}

// writeReply copies the server's answer, with every occurrence of the
// workload's token cut out (lookup-self and renew-self would show it):
// the token never leaves the agent.
func writeReply(w http.ResponseWriter, rep *reply, tok string) {
	body := rep.body
	if tok != "" && bytes.Contains(body, []byte(tok)) {
		body = bytes.ReplaceAll(body, []byte(tok), []byte("[held by arca agent]"))
	}
	for _, k := range []string{"Content-Type", "Cache-Control"} {
		if v := rep.header.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	w.WriteHeader(rep.status)
	_, _ = w.Write(body)
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string][]string{"errors": {msg}})
}

type leaseInfo struct {
	id        string
	ttl       time.Duration
	renewable bool
}

func leaseOf(body []byte) leaseInfo {
	var v struct {
		LeaseID       string `json:"lease_id"`
		LeaseDuration int64  `json:"lease_duration"`
		Renewable     bool   `json:"renewable"`
	}
	if json.Unmarshal(body, &v) != nil {
		return leaseInfo{}
	}
	return leaseInfo{v.LeaseID, time.Duration(v.LeaseDuration) * time.Second, v.Renewable}
}

// tcpHandler serves the loopback TCP listener: no attestation, the
// agent's own token for requests that bring none (Vault Agent's
// use_auto_auth_token).
type tcpHandler struct{ a *Agent }

func (h *tcpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/v1/") {
		writeErr(w, http.StatusNotFound, "the agent serves only the Vault API under /v1/")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeErr(w, http.StatusRequestEntityTooLarge, "request body too large or unreadable")
		return
	}
	hdr := http.Header{}
	for _, k := range forwardedHeaders {
		if v := r.Header.Values(k); len(v) > 0 {
			hdr[k] = v
		}
	}
	tok := r.Header.Get("X-Vault-Token")
	if tok == "" {
		tok = h.a.auth.Token()
	}
	rep, err := h.a.up.do(r.Context(), r.Method, r.URL.Path, r.URL.RawQuery, tok, hdr, body)
	if err != nil {
		writeErr(w, http.StatusBadGateway, "arca agent: the server is unreachable")
		return
	}
	writeReply(w, rep, "")
}

func connContext(ctx context.Context, c net.Conn) context.Context {
	if uc, ok := c.(*net.UnixConn); ok {
		return context.WithValue(ctx, connKey{}, &connInfo{conn: uc, accepted: attest.BootTicks()})
	}
	return ctx
}
