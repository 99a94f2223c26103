package agent

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"golang.org/x/sys/unix"
)

// leaseKeeper renews the leases of dynamic secrets the agent handed to a
// workload, at two thirds of their TTL, for as long as the workload's
// process lives; then it lets them expire.
type leaseKeeper struct {
	ctx   context.Context
	up    *upstream
	log   *slog.Logger
	clock clock
}

func (k *leaseKeeper) keep(pid int, token string, l leaseInfo) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // the workload is already gone (or no pidfd): no renewal
	}
	go func() {
		defer unix.Close(pidfd)
		ttl := l.ttl
		for ttl > 0 {
			k.clock.sleepUntil(k.ctx, k.clock.Now().Add(max(ttl*2/3, time.Second)), nil)
			if k.ctx.Err() != nil {
				return
			}
			if err := unix.PidfdSendSignal(pidfd, 0, nil, 0); errors.Is(err, unix.ESRCH) {
				k.log.Info("workload gone; its lease is left to expire", "lease_id", l.id, "pid", pid)
				return
			}
			var out struct {
				LeaseDuration int64 `json:"lease_duration"`
			}
			if err := k.up.call(k.ctx, "PUT", "/v1/sys/leases/renew", token, map[string]any{"lease_id": l.id}, &out); err != nil {
				k.log.Warn("renewing a workload's lease failed; it will expire", "lease_id", l.id, "error", err)
				return
			}
			k.log.Debug("renewed a workload's lease", "lease_id", l.id, "ttl", out.LeaseDuration)
			ttl = time.Duration(out.LeaseDuration) * time.Second
		}
	}()
}
