package server

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/arca-secrets/arca/events"
	"github.com/arca-secrets/arca/token"
)

// Subscription timing (variables so that tests of the server package
// may shorten them; nothing else changes them).
var (
	// eventTokenRecheck is how often a subscription checks that its token
	// still lives. Revocation, sealing and a step-down end it at once
	// through the bus, and expiry when it is due (expiryTimer): this is a
	// backstop for an end of a token that none of them tells of.
	eventTokenRecheck = time.Minute
	// eventWriteTimeout bounds the sending of one batch: a subscriber that
	// does not read is disconnected, never waited for.
	eventWriteTimeout = 10 * time.Second
)

// handleEventsSubscribe answers GET sys/events/subscribe/<type>?json=true
// with a WebSocket of the events whose type matches <type> (a glob). The
// pipeline has checked read on the path; each event is then sent only if
// the token may read the event's path, judged at the time of the event.
func (s *Server) handleEventsSubscribe(w http.ResponseWriter, r *http.Request, pattern string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	rec, ok := w.(*recorder)
	call := callOf(r)
	switch {
	case s.events == nil:
		respondError(w, http.StatusNotFound, errors.New("this server publishes no events"))
		return
	case !ok || call == nil || call.Caller == nil:
		respondError(w, http.StatusInternalServerError, errors.New("internal error"))
		return
	case pattern == "":
		respondError(w, http.StatusBadRequest, errors.New("missing event type"))
		return
	case r.URL.Query().Get("json") != "true":
		respondError(w, http.StatusBadRequest, errors.New("only json=true is supported: events are sent as CloudEvents JSON"))
		return
	case !strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
		respondError(w, http.StatusBadRequest, errors.New("sys/events/subscribe is a WebSocket endpoint"))
		return
	}
	if _, err := path.Match(pattern, ""); err != nil {
		respondError(w, http.StatusBadRequest, events.ErrBadPattern)
		return
	}
	te := call.Caller.Token
	// The upgrade happens once this request's answer is recorded.
	rec.stream = func(w http.ResponseWriter, r *http.Request) { s.streamEvents(w, r, pattern, te) }
}

// eventFilter says whether te may learn of an event: read, subscribe
// (hear of changes without reading) or root on its path, asked of the
// policies as they are now.
func (s *Server) eventFilter(te *token.Entry) events.Filter {
	return func(ev events.Event) bool {
		p := ev.ReadPath()
		caps, err := s.core.Capabilities(context.Background(), te, []string{p})
		if err != nil {
			return false
		}
		c := caps[p]
		return slices.Contains(c, "read") || slices.Contains(c, "subscribe") || slices.Contains(c, "root")
	}
}

// tokenExpiry says whether te is still a live token, and when it
// expires now (zero: never), which a renewal may have moved.
func (s *Server) tokenExpiry(ctx context.Context, te *token.Entry) (expires time.Time, live bool) {
	if te.Accessor == "" {
		// A batch token has no accessor to look up; its expiry is its end.
		return te.ExpireTime, te.ExpireTime.IsZero() || time.Now().Before(te.ExpireTime)
	}
	e, err := s.core.LookupAccessor(ctx, te.Accessor)
	if err != nil {
		return time.Time{}, false
	}
	return e.ExpireTime, true
}

// expiryTimer fires when a token that expires at expires does; never
// (a nil channel) for one that does not expire. A renewed token's timer
// is set again for its new expiry, at least a second on, so that a token
// still listed past its expiry (its lease not yet revoked) is not looked
// up in a loop.
type expiryTimer struct{ t *time.Timer }

func (e *expiryTimer) set(expires time.Time) {
	if e.t != nil {
		e.t.Stop()
		e.t = nil
	}
	if !expires.IsZero() {
		e.t = time.NewTimer(max(time.Until(expires), time.Second))
	}
}

func (e *expiryTimer) C() <-chan time.Time {
	if e.t == nil {
		return nil
	}
	return e.t.C
}

// streamEvents upgrades the connection and sends the subscription's
// events until the client goes, the token dies or the bus closes.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request, pattern string, te *token.Entry) {
	sub, err := s.events.Subscribe(pattern, te.Accessor, s.eventFilter(te))
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	defer sub.Close()
	// A subscription lasts: it holds no place among
	// max_concurrent_requests and has no request deadline.
	if sl, ok := r.Context().Value(slotKey{}).(*slot); ok {
		sl.release()
	}
	boundSendBuffer(r.Context())
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{})
	if err != nil {
		return // Accept answered the client
	}
	defer conn.CloseNow()
	conn.SetReadLimit(4 << 10)
	// Nothing is read from a subscriber; CloseRead answers its pings and
	// ends ctx when it goes.
	ctx := conn.CloseRead(context.WithoutCancel(r.Context()))
	tick := time.NewTicker(eventTokenRecheck)
	defer tick.Stop()
	var expiry expiryTimer
	expiry.set(te.ExpireTime)
	defer expiry.set(time.Time{})
	for {
		select {
		case <-ctx.Done():
			s.log.Debug("event subscription ended by the subscriber", "error", context.Cause(ctx))
			return
		case <-sub.Done():
			// A revoked token, or this node sealed or no longer active:
			// the client may subscribe again in the last cases only.
			reason, status := "subscription closed", websocket.StatusPolicyViolation
			if err := sub.Err(); err != nil {
				reason = err.Error()
				if events.Retry(err) {
					status = websocket.StatusTryAgainLater
				}
			}
			_ = conn.Close(status, reason)
			return
		case <-expiry.C():
			expires, live := s.tokenExpiry(ctx, te)
			if !live {
				_ = conn.Close(websocket.StatusPolicyViolation, "the subscription's token has expired")
				return
			}
			expiry.set(expires)
		case <-tick.C:
			if _, live := s.tokenExpiry(ctx, te); !live {
				_ = conn.Close(websocket.StatusPolicyViolation, "the subscription's token is no longer valid")
				return
			}
		case <-sub.Ready():
			evs, missed := sub.Take()
			if err := s.sendEvents(ctx, conn, evs, missed); err != nil {
				s.log.Debug("event subscription ended: sending failed", "error", err)
				return
			}
		}
	}
}

func (s *Server) sendEvents(ctx context.Context, conn *websocket.Conn, evs []events.Event, missed int) error {
	ctx, cancel := context.WithTimeout(ctx, eventWriteTimeout)
	defer cancel()
	for _, ev := range evs {
		// The dispatcher judged each event against the policies of the
		// moment it was published.
		if err := conn.Write(ctx, websocket.MessageText, ev.Encoded()); err != nil {
			return err
		}
	}
	// Told after the events that were kept: those dropped came later.
	if missed > 0 {
		b, err := events.Missed(missed, time.Now()).CloudEvent()
		if err != nil {
			return err
		}
		if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
			return err
		}
	}
	return nil
}

type netConnKey struct{}

// eventSendBuffer bounds the kernel's send buffer of an event stream. The
// subscription's queue is where events wait, bounded and counted; left
// to itself the kernel would grow a buffer of megabytes per subscriber
// that reads slowly, and hide from it that it is behind.
const eventSendBuffer = 32 << 10

func boundSendBuffer(ctx context.Context) {
	c, _ := ctx.Value(netConnKey{}).(net.Conn)
	// Under TLS and the listener's wrappers (wipehttp) is the TCP socket.
	for range 4 {
		switch w := c.(type) {
		case *tls.Conn:
			c = w.NetConn()
		case interface{ Unwrap() net.Conn }:
			c = w.Unwrap()
		}
	}
	if tcp, ok := c.(*net.TCPConn); ok {
		_ = tcp.SetWriteBuffer(eventSendBuffer)
	}
}
