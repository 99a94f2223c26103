package agent

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/arca-secrets/arca/events"
)

// watcher keeps the agent's one subscription to the server's change
// events (sys/events/subscribe/*, with the agent's own token). An event
// drops the cached reads of its path and makes the templates that read
// it render again; a missed-events notice, or any (re)connection, makes
// everything be read again, since changes may have happened unseen. A
// server without events leaves the agent to its schedules (kv_ttl,
// static_secret_render_interval), which run in every case.
type watcher struct {
	up    *upstream
	auth  *autoAuth
	log   *slog.Logger
	clock clock
	kv    *kvCache
	units []*unit
	// onEvent, when set, is told of every event (the exec supervisor
	// watches for its child's revocation).
	onEvent func(ev change)
	// gc collects the answers events dropped from kv.
	gc collector
}

// change is what an event says changed.
type change struct {
	typ string
	// path and dataPath are the event's (full) paths; leaseID is set for
	// a revoked lease, which concerns that lease only.
	path, dataPath, mount, leaseID string
	// all: anything may have changed (a resync).
	all bool
	// index is the X-Vault-Index of the state the change was made in
	// (empty from a server without one).
	index string
}

// Reconnection backoff, and the wait before asking again a server that
// has no events endpoint.
const (
	eventsMinBackoff = 250 * time.Millisecond
	eventsMaxBackoff = 30 * time.Second
	eventsNoneRetry  = 5 * time.Minute
)

// errNoEvents: the server has no events endpoint.
var errNoEvents = errors.New("the server publishes no change events")

func (w *watcher) run(ctx context.Context, ready <-chan struct{}) {
	select {
	case <-ctx.Done():
		return
	case <-ready:
	}
	warmDecoder()
	backoff := eventsMinBackoff
	for ctx.Err() == nil {
		connected, err := w.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if connected {
			backoff = eventsMinBackoff
		}
		wait := backoff
		if errors.Is(err, errNoEvents) {
			w.log.Info("the server publishes no change events; templates and the cache poll on their schedules", "retry_in", eventsNoneRetry)
			wait = eventsNoneRetry
		} else {
			w.log.Warn("change events: not subscribed; reconnecting", "error", err, "retry_in", wait)
			backoff = min(backoff*2, eventsMaxBackoff)
		}
		w.clock.sleepUntil(ctx, w.clock.Now().Add(wait), nil)
	}
}

// eventsURL is the WebSocket address of the subscription to every type.
func (w *watcher) eventsURL() (string, error) {
	u, err := url.Parse(w.up.base)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	case "http":
		u.Scheme = "ws"
	default:
		return "", fmt.Errorf("address %q: unknown scheme", w.up.base)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/sys/events/subscribe/*"
	u.RawQuery = "json=true"
	return u.String(), nil
}

// httpClient is the upstream's transport for a WebSocket: HTTP/1.1 only
// (the upgrade is an HTTP/1.1 exchange) and no client timeout (the
// subscription lasts; ctx ends it).
func (w *watcher) httpClient() *http.Client {
	tr, ok := w.up.client.Transport.(*http.Transport)
	if !ok {
		return &http.Client{Transport: w.up.client.Transport}
	}
	tr = tr.Clone()
	tr.ForceAttemptHTTP2 = false
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	if tr.TLSClientConfig != nil {
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	return &http.Client{Transport: tr}
}

// session subscribes and handles events until the subscription ends;
// connected says whether it was established.
func (w *watcher) session(ctx context.Context) (connected bool, err error) {
	tok := w.auth.Token()
	if tok == "" {
		return false, errNotReady
	}
	u, err := w.eventsURL()
	if err != nil {
		return false, err
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	conn, resp, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPClient: w.httpClient(), HTTPHeader: http.Header{"X-Vault-Token": {tok}}})
	cancel()
	if err != nil {
		if resp != nil {
			switch resp.StatusCode {
			case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
				return false, errNoEvents
			case http.StatusForbidden:
				return false, errors.New("the server refused the subscription: the agent's policy needs read on sys/events/subscribe/* (and on the paths it should hear of)")
			}
			return false, fmt.Errorf("the server answered %s", resp.Status)
		}
		return false, err
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	w.log.Info("subscribed to change events")
	// What changed while the agent was not subscribed is read again now
	// that no change can pass unseen.
	w.deliver(change{all: true})
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			return true, err
		}
		var ev events.Received
		if err := json.Unmarshal(b, &ev); err != nil {
			return true, fmt.Errorf("decoding an event: %w", err)
		}
		w.deliver(changeOf(ev))
	}
}

// warmDecoder decodes one event before any arrives: encoding/json
// builds a type's decoder on its first use, which cost the first change
// a host's agents heard of about a millisecond each.
func warmDecoder() {
	if b, err := events.Missed(1, time.Time{}).CloudEvent(); err == nil {
		var ev events.Received
		_ = json.Unmarshal(b, &ev)
	}
}

func changeOf(ev events.Received) change {
	md := ev.Data.Event.Metadata
	typ := ev.Data.EventType
	if typ == "" {
		typ = ev.Type
	}
	if typ == events.TypeMissed {
		return change{typ: typ, all: true}
	}
	c := change{typ: typ, path: md["path"], dataPath: md["data_path"], leaseID: md["lease_id"], index: md["index"]}
	if i := strings.IndexByte(c.path, '/'); i > 0 {
		c.mount = c.path[:i+1]
	}
	return c
}

// deliver applies a change to the cache and the templates.
func (w *watcher) deliver(c change) {
	if c.index != "" {
		// Before anything is read again because of it.
		w.up.sawIndex(c.index)
	}
	if c.all {
		w.log.Info("change events: reading cached and rendered secrets again", "reason", cmpOr(c.typ, "subscribed"))
	} else {
		w.log.Debug("change event", "type", c.typ, "path", c.path)
	}
	if w.kv.forgetChange(c) {
		w.gc.soon()
	}
	for _, u := range w.units {
		u.changed(c)
	}
	if w.onEvent != nil {
		w.onEvent(c)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// forgetChange drops the cached reads a change concerns (all of them
// for a resync) and says whether it dropped any: they hold secrets, and
// the caller has them collected (collector).
func (c *kvCache) forgetChange(ch change) (dropped bool) {
	if c == nil || ch.leaseID != "" {
		return false // cached reads have no lease
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch.all {
		dropped = len(c.m) > 0
		clear(c.m)
		return dropped
	}
	var paths []string
	for _, p := range []string{ch.path, ch.dataPath} {
		if p != "" {
			paths = append(paths, apiPath(p))
		}
	}
	for _, byURI := range c.m {
		for uri := range byURI {
			p, _, _ := strings.Cut(uri, "?")
			for _, want := range paths {
				if p == want {
					delete(byURI, uri)
					dropped = true
				}
			}
		}
	}
	return dropped
}

// pendingLimit bounds the changes a unit holds between renders; past
// it, the unit reads everything again.
const pendingLimit = 256

// changes is a unit's inbox of changes, filled by the watcher and
// emptied by the unit's loop before each render.
type changes struct {
	mu      sync.Mutex
	pending []change
	all     bool
	wake    chan struct{}
}

func newChanges() *changes { return &changes{wake: make(chan struct{}, 1)} }

func (u *unit) changed(c change) {
	ch := u.inbox
	ch.mu.Lock()
	switch {
	case c.all || len(ch.pending) >= pendingLimit:
		ch.all, ch.pending = true, nil
	case !ch.all:
		ch.pending = append(ch.pending, c)
	}
	ch.mu.Unlock()
	select {
	case ch.wake <- struct{}{}:
	default:
	}
}

// applyChanges marks the unit's secrets that changed as due.
func (u *unit) applyChanges() {
	ch := u.inbox
	ch.mu.Lock()
	pending, all := ch.pending, ch.all
	ch.pending, ch.all = nil, false
	ch.mu.Unlock()
	if all {
		u.r.invalidate(change{all: true})
		return
	}
	for _, c := range pending {
		u.r.invalidate(c)
	}
}

// invalidate makes the secrets a change concerns due now: a read of its
// path, a lease it revoked, a list under its mount.
func (r *renderer) invalidate(c change) {
	for _, d := range r.deps {
		hit := c.all
		switch {
		case hit:
		case c.leaseID != "":
			hit = d.secret != nil && d.secret.LeaseID == c.leaseID
		case d.list:
			hit = c.mount != "" && strings.HasPrefix(d.path, c.mount)
		default:
			hit = d.path == c.path || (c.dataPath != "" && d.path == c.dataPath)
		}
		if hit {
			d.renewAt, d.refetchAt = time.Time{}, time.Time{}
		}
	}
}
