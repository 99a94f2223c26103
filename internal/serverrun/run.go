// Package serverrun assembles and runs an Arca server from its
// configuration: storage, seal, core, listeners, metrics, the cluster
// node; "arca server" parses flags and calls Run.
package serverrun

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/arca-secrets/arca/internal/assemble"

	"github.com/arca-secrets/arca/auth/approle"
	"github.com/arca-secrets/arca/auth/cert"
	"github.com/arca-secrets/arca/auth/userpass"
	"github.com/arca-secrets/arca/auth/workload"
	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/events"
	"github.com/arca-secrets/arca/internal/config"
	"github.com/arca-secrets/arca/internal/vaultindex"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/metrics"
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/secmem"
	"github.com/arca-secrets/arca/secrets/database"
	"github.com/arca-secrets/arca/secrets/kv"
	"github.com/arca-secrets/arca/secrets/transit"
	"github.com/arca-secrets/arca/secrets/volume"
	"github.com/arca-secrets/arca/server"
	"github.com/arca-secrets/arca/storage"
)

// lockProbeSize is how much locked memory the server checks for at start:
// room for the root key, several keyring terms and unseal shares.
const lockProbeSize = 32 << 10

// Options are what the command line adds to the configuration.
type Options struct {
	// Dev starts the server initialised and unsealed, with
	// DevRootTokenID (or a random one) as its root token.
	Dev            bool
	DevRootTokenID string
}

// NewLogger is the server's and the agent's logger at level, on w.
func NewLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	switch level {
	case "trace", "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// memoryMode checks that key memory can be locked. Without disable_mlock a
// failure stops the server: keys that may be swapped to disk are a leak.
func memoryMode(conf *config.Config, log *slog.Logger) (secmem.Mode, error) {
	WarnIfNotErasing(log)
	err := secmem.CheckLock(lockProbeSize)
	switch {
	case err == nil:
		return secmem.RequireLock, nil
	case conf.DisableMlock:
		log.Warn("key memory cannot be locked and disable_mlock is set: keys may be swapped to disk", "error", err)
		return secmem.BestEffort, nil
	}
	return 0, err
}

func engines() map[string]logical.Factory {
	return map[string]logical.Factory{"kv": kv.Factory, "transit": transit.Factory, "database": database.Factory, "volume": volume.Factory}
}

func authMethods() map[string]logical.Factory {
	return map[string]logical.Factory{"userpass": userpass.Factory, "approle": approle.Factory, "workload": workload.Factory, "cert": cert.Factory}
}

// Run assembles the server conf describes and serves until ctx ends.
func Run(ctx context.Context, f Options, conf *config.Config, stdout, stderr io.Writer) error {
	log := NewLogger(conf.LogLevel, stderr)
	if err := secmem.Harden(); err != nil {
		return fmt.Errorf("hardening the process (non-dumpable, no core dumps): %w", err)
	}
	mode, err := memoryMode(conf, log)
	if err != nil {
		return err
	}
	// A raft node applies writes that other nodes made: core refreshes
	// what it holds of them (the core exists only once storage does).
	var liveCore atomic.Pointer[core.Core]
	var backend storage.Backend // set before liveCore is
	applied := func(keys []string) {
		c := liveCore.Load()
		if c == nil {
			return
		}
		if keys == nil {
			if restoredElsewhere(c, backend) {
				// A snapshot of another cluster replaced the keyring:
				// what this node holds in memory no longer opens the
				// data, so it seals, as the node that restored it did,
				// and is unsealed with the other cluster's keys. (Not
				// here, in Raft's apply: sealing waits for requests that
				// may wait on this apply.)
				log.Warn("a restored snapshot's keyring does not open with this node's root key: sealing")
				go func() { _ = c.Seal(context.Background()) }()
				return
			}
			_ = c.InvalidateAll(context.Background())
			return
		}
		for _, k := range keys {
			if err := c.Invalidate(context.Background(), k); err != nil {
				log.Warn("refreshing after a replicated write", "error", err)
			}
		}
	}
	backend, closeStorage, err := assemble.OpenStorage(conf, applied)
	if err != nil {
		return fmt.Errorf("opening storage: %w", err)
	}
	defer func() {
		if err := closeStorage(); err != nil {
			log.Error("closing storage", "error", err)
		}
	}()
	sl, err := assemble.OpenSeal(conf.Seal, log)
	if err != nil {
		return fmt.Errorf("opening seal: %w", err)
	}
	if closer, ok := sl.(io.Closer); ok {
		defer closer.Close()
	}
	var oldSeal seal.Seal
	if conf.DisabledSeal != nil {
		if oldSeal, err = assemble.OpenSeal(*conf.DisabledSeal, log); err != nil {
			return fmt.Errorf("opening the disabled seal (seal migration): %w", err)
		}
		if closer, ok := oldSeal.(io.Closer); ok {
			defer closer.Close()
		}
		log.Warn("seal migration mode: a disabled seal is configured", "from", oldSeal.Type(), "to", sl.Type())
	}
	var devices []core.AuditDevice
	for _, a := range conf.Audit {
		devices = append(devices, core.AuditDevice{Name: a.Name, Type: a.Type, Options: a.Options})
	}
	// The metrics read the core's state, and time its storage.
	var c *core.Core
	reg := metrics.New(metrics.Config{
		Sealed:        func() bool { return c.Sealed() },
		Active:        func() bool { return c.Active() },
		AuditFailures: func() uint64 { return c.AuditFailures() },
		Counts:        func() (int64, int64, bool) { return c.Counts(context.Background()) },
	})
	// Change events: published by core, served by every listener. On
	// raft storage each carries the applied index, so that a subscriber
	// reading through a standby reads a state that holds the change.
	var evConf events.Config
	if ra, ok := backend.(interface{ AppliedIndex() uint64 }); ok {
		evConf.Index = func() string { return vaultindex.Encode(ra.AppliedIndex()) }
	}
	bus := events.New(evConf)
	defer bus.Close()
	c = core.New(core.Config{
		Storage: reg.Instrument(backend), StorageType: conf.Storage.Type, Seal: sl, MigrateFrom: oldSeal, Engines: engines(), AuthMethods: authMethods(),
		Memory: mode, Logger: log, AuditDevices: devices,
		AuditPolicy: core.AuditPolicy{Dev: f.Dev, FileDirs: conf.AuditAPIFileDirs}, Events: bus,
		HA: conf.Storage.Type == "raft",
	})
	liveCore.Store(c)
	if err := c.CheckSeal(ctx); err != nil {
		return fmt.Errorf("checking the seal: %w", err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			if err := c.ReopenAudit(); err != nil {
				log.Error("reopening audit devices", "error", err)
			} else {
				log.Info("audit devices reopened")
			}
		}
	}()
	listeners, err := listen(conf.Listeners)
	if err != nil {
		return err
	}
	if f.Dev {
		res, err := c.DevInit(ctx, f.DevRootTokenID)
		if err != nil {
			return fmt.Errorf("starting dev server: %w", err)
		}
		printDevBanner(stdout, conf.Listeners[0].Address, res)
	}
	node, err := assemble.StartCluster(ctx, conf, c, backend, sl, mode, log)
	if err != nil {
		return err
	}
	stopUnseal := assemble.StartAutoUnseal(ctx, c, sl, log)
	errc := make(chan error, len(listeners)+1)
	for i, l := range listeners {
		// Each listener has its own limits, so its own server over the
		// one core.
		sc := server.Config{Core: c, Logger: log, Limits: serverLimits(conf.Listeners[i].Limits), Metrics: reg, Raft: assemble.RaftAdmin(backend), Events: bus}
		if node != nil {
			sc.Cluster = node
		}
		srv := server.New(sc)
		if i == 0 && node != nil {
			// Requests standbys forward arrive on the cluster port and
			// are served with the first listener's limits.
			go assemble.ServeForwarded(ctx, srv, assemble.RaftNode(backend), log)
		}
		log.Info("listening", "address", l.listener.Addr().String(), "tls", l.tls != nil)
		go func() { errc <- srv.Serve(ctx, l.listener, l.tls) }()
	}
	var first error
	for range listeners {
		if err := <-errc; err != nil && first == nil && !errors.Is(err, context.Canceled) {
			first = err
			stopAll(ctx, listeners)
		}
	}
	stopUnseal()
	_ = c.Seal(context.Background())
	return first
}

func stopAll(_ context.Context, ls []boundListener) {
	for _, l := range ls {
		_ = l.listener.Close()
	}
}

type boundListener struct {
	listener net.Listener
	tls      *tls.Config
}

// serverLimits maps a listener block's limits onto the server's.
func serverLimits(l config.ListenerLimits) server.Limits {
	return server.Limits{
		MaxRequestSize:        l.MaxRequestSize,
		MaxRequestDuration:    l.MaxRequestDuration,
		MaxConcurrentRequests: l.MaxConcurrentRequests,
		JSON: server.JSONLimits{
			MaxDepth: l.MaxJSONDepth, MaxStringLength: l.MaxJSONStringLength,
			MaxObjectEntries: l.MaxJSONObjectEntries, MaxArrayElements: l.MaxJSONArrayElements,
			MaxElements: l.MaxJSONElements,
		},
		AllowUnauthedRekey:        l.AllowUnauthedRekey,
		UnauthenticatedMetrics:    l.UnauthenticatedMetrics,
		AllowUnauthedGenerateRoot: l.AllowUnauthedGenerateRoot,
	}
}

func listen(confs []config.Listener) ([]boundListener, error) {
	var out []boundListener
	for _, lc := range confs {
		var tc *tls.Config
		if !lc.TLSDisable {
			cert, err := tls.LoadX509KeyPair(lc.TLSCertFile, lc.TLSKeyFile)
			if err != nil {
				return nil, fmt.Errorf("listener %s: loading TLS certificate: %w", lc.Address, err)
			}
			// A client certificate is asked for but not verified here: the
			// cert auth method verifies it against its own trust list,
			// and clients without one are served as before.
			tc = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, ClientAuth: tls.RequestClientCert}
		}
		l, err := net.Listen("tcp", lc.Address)
		if err != nil {
			return nil, fmt.Errorf("listener %s: %w", lc.Address, err)
		}
		out = append(out, boundListener{listener: l, tls: tc})
	}
	return out, nil
}

func printDevBanner(w io.Writer, addr string, res *core.InitResult) {
	var b strings.Builder
	fmt.Fprintln(&b, "WARNING! dev mode is enabled! In this mode, Arca runs entirely in-memory,")
	fmt.Fprintln(&b, "starts unsealed with a single unseal key, and listens without TLS.")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "You may need to set the following environment variables:")
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "    $ export ARCA_ADDR='http://%s'\n", addr)
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "The unseal key and root token are displayed below in case you want to")
	fmt.Fprintln(&b, "seal/unseal the server or re-authenticate.")
	fmt.Fprintln(&b)
	hexKeys, _ := encodeShareHex(res.Shares)
	fmt.Fprintf(&b, "Unseal Key: %s\n", hexKeys[0])
	fmt.Fprintf(&b, "Root Token: %s\n", res.RootToken)
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "Development mode should NOT be used in production installations!")
	fmt.Fprint(w, b.String())
}

func encodeShareHex(shares [][]byte) ([]string, error) {
	out := make([]string, len(shares))
	for i, s := range shares {
		out[i] = fmt.Sprintf("%x", s)
		clear(s)
	}
	return out, nil
}

// WarnIfNotErasing says so when the collector does not overwrite what it
// frees (the process could not re-execute itself with
// GODEBUG=clobberfree=1, or runs in-process in a test): secrets then
// linger in the heap after use.
func WarnIfNotErasing(log *slog.Logger) {
	if !secmem.ClobberFreed() {
		log.Warn("freed memory is not overwritten: secrets may linger in the heap after use; start with GODEBUG=clobberfree=1")
	}
}
