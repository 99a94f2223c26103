package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/arca-secrets/arca/agent"
	"github.com/arca-secrets/arca/internal/serverrun"
)

// runAgent is "arca agent -config agent.hcl".
func runAgent(e *env, args []string) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	configPath := fs.String("config", "", "path to the agent's HCL configuration (required)")
	logLevel := fs.String("log-level", "info", "trace, debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *configPath == "" {
		fmt.Fprintln(e.stderr, "arca agent: -config is required")
		return exitUsage
	}
	cfg, err := agent.LoadConfig(*configPath)
	if err != nil {
		fmt.Fprintf(e.stderr, "arca agent: %v\n", err)
		return exitError
	}
	if len(cfg.Listeners) == 0 && os.Getenv("GOMAXPROCS") == "" {
		// Without a socket to serve, the agent handles one change at a
		// time: a second processor only makes the scheduler wake a
		// second thread at each hand-off between goroutines, which cost a
		// change half again as much CPU (BENCHMARKS.md).
		runtime.GOMAXPROCS(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := newLogger(*logLevel, e.stderr)
	serverrun.WarnIfNotErasing(log)
	err = agent.Run(ctx, cfg, log)
	var child *agent.ChildExitError
	if errors.As(err, &child) {
		return child.Code // exec mode: the child's exit code is the agent's
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "arca agent: %v\n", err)
		return exitError
	}
	return exitOK
}
