package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/arca-secrets/arca/agent/attest"
	"github.com/arca-secrets/arca/internal/wipehttp"
)

// forwardedHeaders are the only request headers passed to the server: a
// workload's own X-Vault-Token or Authorization never is, and a request
// for response wrapping is refused (see wrapHeaders).
var forwardedHeaders = []string{"Content-Type", "Accept", "X-Vault-Request"}

// wrapHeaders ask the server to wrap its answer in a token that anyone
// holding it can unwrap: through the socket, that would let a secret, or
// the workload's own token, leave the agent in a bearer token.
var wrapHeaders = []string{"X-Vault-Wrap-Ttl", "X-Vault-Wrap-Format"}

type connKey struct{}

// connInfo is what the agent knows about a connection: the connection
// itself, which attests its caller once and re-checks it at each request
// (attest.Conn.Identity).
type connInfo struct {
	conn *attest.Conn
}

// workloadHandler serves the UNIX socket: it checks every request's
// caller (attested in full once per connection, re-checked cheaply), and forwards what the allow-list lets through with the token
// of the caller's role.
type workloadHandler struct {
	a *Agent
}

func (h *workloadHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := h.a
	if r.URL.Path == metricsPath {
		ci, _ := r.Context().Value(connKey{}).(*connInfo)
		if ci == nil {
			writeErr(w, http.StatusInternalServerError, "no connection information")
			return
		}
		id, err := a.metrics.identity(ci.conn)
		if err != nil {
			writeErr(w, http.StatusForbidden, "arca agent: "+err.Error())
			return
		}
		a.metrics.serve(w, r, id)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		writeErr(w, http.StatusNotFound, "the agent serves only the Vault API under /v1/")
		return
	}
	how, why := allow(r.Method, rest)
	if how == refused {
		writeErr(w, http.StatusForbidden, "arca agent: "+why)
		return
	}
	for _, k := range wrapHeaders {
		if r.Header.Get(k) != "" {
			writeErr(w, http.StatusForbidden, "arca agent: response wrapping is not served through the agent (the wrapping token would carry the answer out of it); read the secret itself")
			return
		}
	}
	ci, _ := r.Context().Value(connKey{}).(*connInfo)
	if ci == nil {
		writeErr(w, http.StatusInternalServerError, "no connection information")
		return
	}
	id, err := a.metrics.identity(ci.conn)
	if err != nil {
		a.log.Warn("refused a caller", "reason", err.Error(), "path", r.URL.Path)
		writeErr(w, http.StatusForbidden, "arca agent: "+err.Error())
		return
	}
	var body []byte
	if r.Body != http.NoBody { // net/http's for a request without one: nothing to read
		body, err = io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil || len(body) > maxBody {
			writeErr(w, http.StatusRequestEntityTooLarge, "request body too large or unreadable")
			return
		}
	}
	method := r.Method
	cacheable := method == http.MethodGet && how == forwarded && a.kv != nil
	if cacheable {
		if rep, age := a.kv.getAged(id.Key(), r.URL.RequestURI()); rep != nil {
			a.metrics.hits.Inc()
			setAge(w, age)
			writeReply(w, rep)
			if a.log.Enabled(r.Context(), slog.LevelDebug) { // id.String formats
				a.log.Debug("served from cache", "caller", id.String(), "path", r.URL.Path)
			}
			return
		}
		a.metrics.misses.Inc()
	}
	hdr := http.Header{}
	for _, k := range forwardedHeaders {
		if v := r.Header.Values(k); len(v) > 0 {
			hdr[k] = v
		}
	}
	wt, err := a.tokens.get(r.Context(), id)
	if err != nil {
		if cacheable && loginDown(err) && a.serveStale(w, id.Key(), r.URL.RequestURI()) {
			a.log.Warn("served a stale read: the server is unreachable", "caller", id.String(), "path", r.URL.Path, "error", err)
			return
		}
		h.refuseLogin(w, id, err)
		return
	}
	upPath := (&url.URL{Path: r.URL.Path}).EscapedPath()
	rep, err := a.up.do(r.Context(), method, upPath, r.URL.RawQuery, wt.token, hdr, body)
	if cacheable && serverDown(rep, err) && a.serveStale(w, id.Key(), r.URL.RequestURI()) {
		a.log.Warn("served a stale read: the server is unreachable", "caller", id.String(), "path", r.URL.Path)
		return
	}
	if err != nil {
		a.log.Warn("forwarding failed", "caller", id.String(), "path", r.URL.Path, "error", err)
		writeErr(w, http.StatusBadGateway, "arca agent: the server is unreachable")
		return
	}
	a.log.Info("workload request", "caller", id.String(), "method", method, "path", r.URL.Path, "status", rep.status)
	if rep.status == http.StatusForbidden && a.tokens.refused(r.Context(), id, wt) {
		// The token was dead (its role changed): log in once, and send
		// the request once more. A refusal by the policy keeps its live
		// token and is answered as it is.
		if wt, err = a.tokens.get(r.Context(), id); err != nil {
			h.refuseLogin(w, id, err)
			return
		}
		rep, err = a.up.do(r.Context(), method, upPath, r.URL.RawQuery, wt.token, hdr, body)
		if cacheable && serverDown(rep, err) && a.serveStale(w, id.Key(), r.URL.RequestURI()) {
			a.log.Warn("served a stale read: the server is unreachable", "caller", id.String(), "path", r.URL.Path)
			return
		}
		if err != nil {
			a.log.Warn("forwarding failed", "caller", id.String(), "path", r.URL.Path, "error", err)
			writeErr(w, http.StatusBadGateway, "arca agent: the server is unreachable")
			return
		}
		a.log.Info("workload request, with a new token", "caller", id.String(), "method", method, "path", r.URL.Path, "status", rep.status)
	}
	if method != http.MethodGet && a.kv != nil {
		a.kv.forget(id.Key())
	}
	clean, touched := sanitize(rep, wt, how)
	if clean == nil {
		a.log.Warn("withheld an answer that carries a token", "caller", id.String(), "path", r.URL.Path)
		writeErr(w, http.StatusForbidden, "arca agent: the answer carries a token, and tokens never leave the agent")
		return
	}
	if rep.status == http.StatusOK {
		if l := leaseOf(rep.body); l.id != "" {
			if l.renewable {
				a.leases.keep(id.PID, wt.token, l)
			}
		} else if cacheable && !touched {
			a.kv.put(id.Key(), r.URL.RequestURI(), clean)
		}
	}
	writeReply(w, clean)
}

const heldByAgent = "[held by arca agent]"

// sanitize returns the answer as it may leave the agent, and whether it
// had to be changed. Nothing that carries the workload's token does: an
// answer with an auth block (a login, a token creation) or a wrapping
// token is withheld (nil); lookup-self's id and accessor are cut out; and
// any other occurrence of the token or its accessor is replaced.
func sanitize(rep *reply, wt *workloadToken, how passage) (*reply, bool) {
	body := rep.body
	touched := false
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&doc) == nil {
		if doc["auth"] != nil || doc["wrap_info"] != nil {
			return nil, true
		}
		if data, ok := doc["data"].(map[string]any); ok && how == lookupSelf {
			for _, k := range []string{"id", "accessor"} {
				if v, ok := data[k].(string); ok && v != "" {
					data[k] = heldByAgent
					touched = true
				}
			}
		}
		if touched {
			b, err := json.Marshal(doc)
			if err != nil {
				return nil, true
			}
			body = b
		}
	}
	for _, secret := range []string{wt.token, wt.accessor} {
		if secret != "" && bytes.Contains(body, []byte(secret)) {
			body = bytes.ReplaceAll(body, []byte(secret), []byte(heldByAgent))
			touched = true
		}
	}
	return &reply{status: rep.status, header: rep.header, body: body}, touched
}

// refuseLogin answers a caller the server would not log in, with the
// server's reason (which names the identity it saw) and what the agent
// could not read.
func (h *workloadHandler) refuseLogin(w http.ResponseWriter, id *attest.Identity, err error) {
	var se *serverError
	switch {
	case errors.Is(err, errNotReady):
		writeErr(w, http.StatusServiceUnavailable, "arca agent: "+err.Error())
	case errors.Is(err, errSelfLookup):
		h.a.log.Error("workload refused", "caller", id.String(), "reason", err)
		writeErr(w, http.StatusForbidden, "arca agent: "+err.Error())
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

// writeReply copies an answer (already sanitized, for a workload).
func writeReply(w http.ResponseWriter, rep *reply) {
	for _, k := range []string{"Content-Type", "Cache-Control"} {
		if v := rep.header.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	wipehttp.WriteBody(w, rep.status, rep.body)
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(map[string][]string{"errors": {msg}})
	w.Header().Set("Content-Type", "application/json")
	wipehttp.WriteBody(w, status, append(body, '\n'))
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

// tcpHandler serves the loopback TCP listener, where callers cannot be
// attested: it forwards only requests that carry their own token
// (X-Vault-Token, or Authorization: Bearer), and lends the agent's own
// token to none. A request with no token is refused, so no caller can
// use the agent's token, see it, or obtain a workload's identity there.
type tcpHandler struct{ a *Agent }

func (h *tcpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/v1/") {
		writeErr(w, http.StatusNotFound, "the agent serves only the Vault API under /v1/")
		return
	}
	tok := r.Header.Get("X-Vault-Token")
	if tok == "" {
		if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			tok = strings.TrimSpace(b)
		}
	}
	if tok == "" {
		writeErr(w, http.StatusForbidden, "arca agent: the TCP listener forwards only requests that carry their own X-Vault-Token; the agent lends its token to no caller (workloads use the UNIX socket, where the kernel says who they are)")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeErr(w, http.StatusRequestEntityTooLarge, "request body too large or unreadable")
		return
	}
	hdr := http.Header{}
	for _, k := range append(forwardedHeaders, wrapHeaders...) {
		if v := r.Header.Values(k); len(v) > 0 {
			hdr[k] = v
		}
	}
	upPath := (&url.URL{Path: r.URL.Path}).EscapedPath()
	rep, err := h.a.up.do(r.Context(), r.Method, upPath, r.URL.RawQuery, tok, hdr, body)
	if err != nil {
		writeErr(w, http.StatusBadGateway, "arca agent: the server is unreachable")
		return
	}
	writeReply(w, rep)
}

func connContext(ctx context.Context, c net.Conn) context.Context {
	if u, ok := c.(interface{ Unwrap() net.Conn }); ok {
		c = u.Unwrap()
	}
	if ac, ok := c.(*attest.Conn); ok {
		return context.WithValue(ctx, connKey{}, &connInfo{conn: ac})
	}
	return ctx
}
