package cli

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/arca-secrets/arca/bench"
)

// runBench drives a Vault-compatible server with a workload mix:
// arca bench -workload=kv-read:9,kv-write:1 -duration=30s -concurrency=32
func runBench(e *env, args []string) int {
	var addr, token, caCert, workload, format, prefix, server string
	var duration time.Duration
	var concurrency, kvKeys int
	var quiet bool
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&addr, "addr", "", "server address, or an agent's socket as unix:///path/agent.sock (default $ARCA_ADDR, then $VAULT_ADDR)")
	fs.StringVar(&server, "server", "", "the server that sets up and cleans up: with a unix:// -addr (default $ARCA_ADDR, then $VAULT_ADDR), or the active node of the cluster whose standby -addr is")
	fs.StringVar(&token, "token", "", "token with rights to mount and write (default $ARCA_TOKEN, then $VAULT_TOKEN)")
	fs.StringVar(&caCert, "ca-cert", "", "CA certificate for TLS (default $ARCA_CACERT)")
	fs.StringVar(&workload, "workload", "kv-read", "workload, or weighted mix such as kv-read:9,kv-write:1; one of "+strings.Join(bench.Workloads, ", "))
	fs.DurationVar(&duration, "duration", 10*time.Second, "how long to run")
	fs.IntVar(&concurrency, "concurrency", 16, "concurrent clients")
	fs.IntVar(&kvKeys, "kv-keys", bench.DefaultKVKeys, "keys the kv workloads write first and spread their operations over")
	fs.StringVar(&format, "format", "table", "table or json")
	fs.StringVar(&prefix, "prefix", "arca-bench", "prefix of the mounts the run creates and removes")
	fs.BoolVar(&quiet, "quiet", false, "no progress lines")
	var pgURL, ceiling, pids string
	fs.StringVar(&pids, "server-pids", "", "comma list of the server's process ids on this host (a cluster's nodes): reports their CPU time per operation over the run")
	fs.StringVar(&ceiling, "ceiling", "", "instead of driving a server, serve a trivial handler on this address (host:port) until interrupted: the ceiling that -workload=ceiling measures")
	fs.StringVar(&pgURL, "postgres-url", "", "PostgreSQL for database-creds: postgres://user:password@host:port/db (default $ARCA_BENCH_POSTGRES_URL)")
	if _, ok := parseFlags(e, fs, args); !ok {
		return exitUsage
	}
	if ceiling != "" {
		return serveCeiling(e, ceiling)
	}
	if addr == "" {
		addr = e.firstEnv("ARCA_ADDR", "VAULT_ADDR")
	}
	if token == "" {
		token = e.firstEnv("ARCA_TOKEN", "VAULT_TOKEN")
	}
	if strings.HasPrefix(addr, "unix://") {
		server = cmp.Or(server, e.firstEnv("ARCA_ADDR", "VAULT_ADDR")) // set-up and clean-up with a unix:// -addr
	}
	if caCert == "" {
		caCert = e.firstEnv("ARCA_CACERT", "VAULT_CACERT")
	}
	if addr == "" || token == "" {
		return usageError(e, "arca bench needs -addr and -token (or ARCA_ADDR and ARCA_TOKEN)")
	}
	if format != "table" && format != "json" {
		return usageError(e, "-format must be table or json")
	}
	if kvKeys < 1 {
		return usageError(e, "-kv-keys must be at least 1")
	}
	mix, err := bench.ParseMix(workload)
	if err != nil {
		return usageError(e, "%v", err)
	}
	if pgURL == "" {
		pgURL = e.firstEnv("ARCA_BENCH_POSTGRES_URL")
	}
	cfg := bench.Config{Addr: addr, Server: server, Token: token, CACert: caCert, Duration: duration, Concurrency: concurrency, Mix: mix, Prefix: prefix, PostgresURL: pgURL, KVKeys: kvKeys}
	for _, p := range strings.FieldsFunc(pids, func(r rune) bool { return r == ',' }) {
		pid, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || pid < 1 {
			return usageError(e, "-server-pids: %q is not a process id", p)
		}
		cfg.ServerPIDs = append(cfg.ServerPIDs, pid)
	}
	if !quiet {
		cfg.Progress = e.stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	results, err := bench.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitError
	}
	if format == "json" {
		_ = printJSON(e.stdout, results)
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tops/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\terrors\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t\n", r.Workload, r.OpsPerSec, r.P50, r.P90, r.P99, r.Max, formatValue(r.Errors))
	}
	tw.Flush()
	if len(cfg.ServerPIDs) > 0 && len(results) > 0 {
		fmt.Fprintf(e.stdout, "server CPU per operation: %.0f µs\n", results[0].ServerCPUMicros)
	}
	return exitOK
}

// serveCeiling serves bench.ServeCeiling on addr until SIGINT or SIGTERM
// (the comparison script stops it as it stops a server).
func serveCeiling(e *env, addr string) int {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitError
	}
	fmt.Fprintf(e.stderr, "serving the ceiling on http://%s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench.ServeCeiling(ctx, ln); err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitError
	}
	return exitOK
}
