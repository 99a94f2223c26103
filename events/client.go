package events

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// ErrRefused: the server refused the subscription (its HTTP status is in
// the message).
var ErrRefused = errors.New("the server refused the subscription")

// ErrEnded: the server closed the subscription (its reason follows).
var ErrEnded = errors.New("the server closed the subscription")

// Copy subscribes to the events of pattern at the server addr
// (http[s]://host:port) with token and writes each one to w as a line of
// CloudEvents JSON until ctx ends (nil) or the server ends the
// subscription (ErrEnded), or timeout (when not 0) has passed. ready,
// when not nil, is called once subscribed. hc carries the TLS
// configuration; it must have no timeout.
func Copy(ctx context.Context, timeout time.Duration, w io.Writer, addr, pattern, token string, hc *http.Client, ready func()) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	u, err := url.Parse(addr)
	if err != nil {
		return fmt.Errorf("invalid address %q", addr)
	}
	u.Scheme = map[string]string{"https": "wss"}[u.Scheme]
	if u.Scheme == "" {
		u.Scheme = "ws"
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/sys/events/subscribe/" + pattern
	u.RawQuery = "json=true"
	conn, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: hc, HTTPHeader: http.Header{"X-Vault-Token": {token}}})
	if err != nil {
		if resp != nil {
			return fmt.Errorf("%w: %s", ErrRefused, resp.Status)
		}
		return err
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	if ready != nil {
		ready()
	}
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				_ = conn.Close(websocket.StatusNormalClosure, "")
				return nil
			}
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return fmt.Errorf("%w: %s", ErrEnded, ce.Reason)
			}
			return err
		}
		if _, err := fmt.Fprintf(w, "%s\n", b); err != nil {
			return err
		}
	}
}
