package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/coder/websocket"
)

func runEvents(e *env, args []string) int {
	return subcommands(e, "events", args, map[string]func(*env, []string) int{
		"subscribe": runEventsSubscribe,
	})
}

// runEventsSubscribe prints the events of a type pattern as they happen,
// one CloudEvents JSON object per line, as vault events subscribe does.
func runEventsSubscribe(e *env, args []string) int {
	var timeout time.Duration
	c, _, pos, code := clientFor(e, "events subscribe", args, 1, 1, func(fs *flag.FlagSet) {
		fs.DurationVar(&timeout, "timeout", 0, "close the subscription after this long (default: never)")
	})
	if code >= 0 {
		return code
	}
	u, err := url.Parse(c.Address())
	if err != nil {
		return usageError(e, "invalid address %q", c.Address())
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	default:
		u.Scheme = "ws"
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/sys/events/subscribe/" + pos[0]
	u.RawQuery = "json=true"
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	hc := *c.CloneConfig().HttpClient
	hc.Timeout = 0 // the subscription lasts; ctx ends it
	conn, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{
		HTTPClient: &hc, HTTPHeader: http.Header{"X-Vault-Token": {c.Token()}},
	})
	if err != nil {
		if resp != nil {
			return apiError(e, "subscribing", fmt.Errorf("the server answered %s", resp.Status))
		}
		return apiError(e, "subscribing", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	fmt.Fprintf(e.stderr, "Subscribed to %s\n", pos[0])
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				_ = conn.Close(websocket.StatusNormalClosure, "")
				return exitOK
			}
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return apiError(e, "reading events", fmt.Errorf("the server closed the subscription: %s", ce.Reason))
			}
			return apiError(e, "reading events", err)
		}
		fmt.Fprintf(e.stdout, "%s\n", b)
	}
}
