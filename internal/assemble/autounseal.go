package assemble

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/seal"
)

// autoUnsealer unseals a server whose seal unseals by itself, at start,
// beside the listeners: seal-status answers sealed until it is done.
type autoUnsealer struct {
	core *core.Core
	log  *slog.Logger
	// wait pauses for d, or returns false when ctx ends first.
	wait func(ctx context.Context, d time.Duration) bool
	// first and max bound the pause between tries while the seal is
	// unavailable; it doubles from first up to max.
	first, max time.Duration
	// initPoll is the pause between looks while the server is not yet
	// initialised.
	initPoll time.Duration
}

func newAutoUnsealer(c *core.Core, log *slog.Logger) *autoUnsealer {
	return &autoUnsealer{core: c, log: log, wait: sleepCtx, first: 500 * time.Millisecond, max: 30 * time.Second, initPoll: time.Second}
}

// StartAutoUnseal unseals c in the background when its seal unseals by
// itself. stop ends the attempts and waits for them to end.
func StartAutoUnseal(ctx context.Context, c *core.Core, s seal.Seal, log *slog.Logger) (stop func()) {
	if !s.AutoUnseal() {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		newAutoUnsealer(c, log).run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// run tries until the server is unsealed, ctx ends, or the seal fails in
// a way that trying again cannot mend (a refused PIN, a missing key, a
// root key the seal's key does not open): that is logged, and the server
// stays sealed until its configuration is fixed and it is restarted.
// Retrying a refused PIN could lock the HSM.
func (a *autoUnsealer) run(ctx context.Context) {
	pause := a.first
	waitingForInit := false
	for {
		err := a.core.AutoUnseal(ctx)
		switch {
		case err == nil:
			return
		case ctx.Err() != nil:
			return
		case errors.Is(err, core.ErrNotInitialized):
			if !waitingForInit {
				a.log.Info("not initialised: run arca operator init; the server unseals itself once it is")
				waitingForInit = true
			}
			if !a.wait(ctx, a.initPoll) {
				return
			}
		case errors.Is(err, core.ErrMigrationRequired):
			a.log.Warn("seal migration mode: the server stays sealed until arca operator unseal -migrate is given the old seal's shares (its recovery shares when it unseals by itself)")
			return
		case errors.Is(err, seal.ErrUnavailable):
			a.log.Warn("auto-unseal: the seal is unavailable, the server stays sealed and tries again", "error", err, "retry_in", pause.String())
			if !a.wait(ctx, pause) {
				return
			}
			pause = min(2*pause, a.max)
		default:
			a.log.Error("auto-unseal failed; not retrying: the server stays sealed until the seal configuration (or the HSM) is fixed and it is restarted", "error", err)
			return
		}
	}
}

// sleepCtx waits d, or until ctx ends (false).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
