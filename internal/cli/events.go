package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/arca-secrets/arca/events"
)

func runEvents(e *env, args []string) int {
	return subcommands(e, "events", args, map[string]func(*env, []string) int{"subscribe": runEventsSubscribe})
}

// runEventsSubscribe prints each event of a type pattern as a line of JSON, as vault events subscribe does.
func runEventsSubscribe(e *env, args []string) int {
	var timeout time.Duration
	c, _, pos, code := clientFor(e, "events subscribe", args, 1, 1, func(fs *flag.FlagSet) {
		fs.DurationVar(&timeout, "timeout", 0, "close the subscription after this long (default: never)")
	})
	if code >= 0 {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	hc := *c.CloneConfig().HttpClient
	hc.Timeout = 0 // the subscription lasts; ctx ends it
	err := events.Copy(ctx, timeout, e.stdout, c.Address(), pos[0], c.Token(), &hc, func() { fmt.Fprintf(e.stderr, "Subscribed to %s\n", pos[0]) })
	if err != nil {
		return apiError(e, "reading events", err)
	}
	return exitOK
}
