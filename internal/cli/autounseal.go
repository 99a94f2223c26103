package cli

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/arca-secrets/arca/core"
)

// Auto-unseal retries start autoUnsealMin apart and back off to
// autoUnsealMax; an uninitialised server is asked every autoUnsealMin, so
// that it unseals about a second after init.
const (
	autoUnsealMin = time.Second
	autoUnsealMax = 15 * time.Second
)

// autoUnseal unseals c, whose seal unseals by itself, at start and, while
// that fails (the seal's key out of reach, the server not initialised
// yet), again with backoff until it succeeds or ctx ends. Each failure is
// logged with its cause; the server stays sealed meanwhile. A server
// sealed later by an operator stays sealed until it is restarted.
func autoUnseal(ctx context.Context, c *core.Core, log *slog.Logger) {
	pause := autoUnsealMin
	waitingForInit := false
	for {
		err := c.AutoUnseal(ctx)
		switch {
		case err == nil:
			return
		case ctx.Err() != nil:
			return
		case errors.Is(err, core.ErrNotInitialized):
			if !waitingForInit {
				log.Info("not initialised: the server will unseal itself after operator init")
				waitingForInit = true
			}
			pause = autoUnsealMin
		default:
			log.Error("auto-unseal failed: the server stays sealed and will retry", "error", err, "retry_in", pause)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if !waitingForInit {
			pause = min(2*pause, autoUnsealMax)
		}
	}
}
