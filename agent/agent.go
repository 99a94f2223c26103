// Package agent is the per-host agent: it logs itself in to Arca
// (auto-auth), listens on a UNIX socket, recognises each calling process
// by its kernel credentials (package attest), logs it in through the
// workload auth method with those selectors, and forwards its Vault API
// requests with a token the workload never sees. It attests a
// connection's caller once and re-checks it cheaply at each request. It
// caches tokens and static reads (served for max_stale more while the
// server is unreachable), and renews the leases it handed out while their workload
// lives. A loopback TCP listener forwards only requests that bring their
// own token: the agent's token is never lent to a caller. Its own
// templates render secrets into files with the agent's own token, and
// into the environment of a child it supervises (exec) with the child's
// own workload identity. It hears of changes from the server's event
// stream (events.go).
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/arca-secrets/arca/agent/attest"
	"github.com/arca-secrets/arca/internal/wipehttp"
)

// Agent is a running agent.
type Agent struct {
	cfg     *Config
	log     *slog.Logger
	up      *upstream
	auth    *autoAuth
	tokens  *tokens
	kv      *kvCache
	leases  *leaseKeeper
	metrics *agentMetrics
}

// Run starts the agent and serves until ctx ends.
//
// With an exec block, Run returns a *ChildExitError when the child exits
// by itself, and the agent stops with it.
func Run(ctx context.Context, cfg *Config, log *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	up, err := newUpstream(cfg)
	if err != nil {
		return err
	}
	clk := newClock(cfg.Now)
	auth, err := newAutoAuth(cfg.AutoAuth, up, log, clk)
	if err != nil {
		return err
	}
	a := &Agent{cfg: cfg, log: log, up: up, auth: auth, tokens: newTokens(up, auth, cfg.WorkloadMount, clk, log),
		kv: newKVCache(cfg.KVCacheTTL, cfg.MaxStale, clk), leases: &leaseKeeper{ctx: ctx, up: up, log: log, clock: clk},
		metrics: newAgentMetrics()}
	var cg *childCgroup
	if cfg.Exec != nil && !cfg.Exec.SharedCgroup {
		if cg, err = newChildCgroup(childCgroupName()); err != nil {
			return fmt.Errorf("exec: %w (own_cgroup = false runs the child in the agent's cgroup)", err)
		}
		defer func() {
			if err := cg.remove(); err != nil {
				log.Warn("removing the exec child's cgroup", "error", err)
			}
		}()
	}
	// The exec child's environment is fetched with its own identity.
	envSrc := agentSource{up: up, auth: auth}
	if cfg.Exec != nil && len(cfg.Exec.Env) > 0 {
		cgPath := ""
		if cg != nil {
			cgPath = cg.path
		}
		if envSrc.child, err = newChildIdentity(cfg.Exec, cgPath, a.tokens); err != nil {
			return err
		}
	}
	tg, err := newTemplating(cfg, agentSource{up: up, auth: auth}, envSrc, clk, log)
	if err != nil {
		return err
	}
	var servers []*http.Server
	for _, l := range cfg.Listeners {
		ln, h, err := a.listen(l)
		if err != nil {
			for _, s := range servers {
				s.Close()
			}
			return err
		}
		srv := &http.Server{
			Handler: wipehttp.Handler(h), ConnContext: connContext,
			// A slow or silent client holds a connection for a bounded time
			// and a bounded amount of memory.
			ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
			WriteTimeout: 90 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		servers = append(servers, srv)
		go func() { _ = srv.Serve(wipehttp.Listener{Listener: ln}) }()
		log.Info("agent listening", "type", l.Type, "address", l.Address)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); auth.run(ctx) }()
	tg.start(ctx, auth.ready, &wg)
	w := &watcher{up: up, auth: auth, log: log, clock: clk, kv: a.kv, units: tg.units}
	var revoked chan string
	if envSrc.child != nil {
		guard := newChildGuard(envSrc.child, log, func() { tg.envUnit.changed(change{all: true}) })
		w.onEvent, revoked = guard.notify, guard.revoked
		wg.Add(1)
		go func() { defer wg.Done(); guard.run(ctx) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); w.run(ctx, auth.ready) }()
	var result error
	if cfg.Exec != nil {
		sup := &supervisor{conf: cfg.Exec, log: log, env: tg.env, before: tg.filesRendered, child: envSrc.child, revoked: revoked, cgroup: cg}
		result = sup.run(ctx)
		cancel()
	}
	<-ctx.Done()
	for _, s := range servers {
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.Shutdown(shut)
		cancel()
	}
	for _, l := range cfg.Listeners {
		if l.Type == "unix" {
			_ = os.Remove(l.Address)
		}
	}
	wg.Wait()
	// The workloads' tokens die with the agent that held them.
	a.tokens.revokeAll()
	return result
}

func (a *Agent) listen(l Listener) (net.Listener, http.Handler, error) {
	if l.Type == "tcp" {
		ln, err := net.Listen("tcp", l.Address)
		return ln, &tcpHandler{a: a}, err
	}
	if err := clearStaleSocket(l.Address); err != nil {
		return nil, nil, err
	}
	// The socket is created with no permission for anyone, then opened up
	// to exactly socket_mode once its owner is set.
	old := syscall.Umask(0o777)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: l.Address, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		return nil, nil, fmt.Errorf("listening on %s: %w", l.Address, err)
	}
	ln.SetUnlinkOnClose(true)
	if err := ownSocket(l); err != nil {
		ln.Close()
		return nil, nil, err
	}
	al, err := attest.NewListener(ln)
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	return al, &workloadHandler{a: a}, nil
}

// clearStaleSocket removes a socket file left by an agent that is gone;
// a live agent's socket, or a file that is not a socket, is an error.
func clearStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket; refusing to replace it", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("%s is in use by another listener (is an agent already running?)", path)
	}
	return os.Remove(path)
}

func ownSocket(l Listener) error {
	uid, gid := -1, -1
	if l.SocketUser != "" {
		u, err := user.Lookup(l.SocketUser)
		if err != nil {
			return fmt.Errorf("socket_user: %w", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
	}
	if l.SocketGroup != "" {
		g, err := user.LookupGroup(l.SocketGroup)
		if err != nil {
			return fmt.Errorf("socket_group: %w", err)
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	if uid >= 0 || gid >= 0 {
		if err := os.Chown(l.Address, uid, gid); err != nil {
			return err
		}
	}
	return os.Chmod(l.Address, l.SocketMode)
}
