package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/arca-secrets/arca/internal/config"
	"github.com/arca-secrets/arca/internal/serverrun"
)

type serverFlags struct {
	configPath       string
	dev              bool
	devRootTokenID   string
	devListenAddress string
}

// runServer implements "arca server".
func runServer(args []string, stdout, stderr io.Writer) int {
	var f serverFlags
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.configPath, "config", "", "path to the server's HCL configuration file")
	fs.BoolVar(&f.dev, "dev", false, "start an unsealed in-memory development server (never for production)")
	fs.StringVar(&f.devRootTokenID, "dev-root-token-id", os.Getenv("ARCA_DEV_ROOT_TOKEN_ID"), "root token of the dev server")
	fs.StringVar(&f.devListenAddress, "dev-listen-address", "127.0.0.1:8200", "address of the dev server's plain-HTTP listener")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: arca server -config=FILE | -dev [-dev-root-token-id=ID] [-dev-listen-address=HOST:PORT]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "arca server: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if !f.dev && f.configPath == "" {
		fmt.Fprintln(stderr, "arca server: give -config=FILE, or -dev for a development server")
		return 2
	}
	conf, err := serverConfig(f)
	if err != nil {
		fmt.Fprintf(stderr, "Error loading configuration: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serverrun.Run(ctx, serverrun.Options{Dev: f.dev, DevRootTokenID: f.devRootTokenID}, conf, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	return 0
}

func serverConfig(f serverFlags) (*config.Config, error) {
	if f.dev {
		if _, _, err := net.SplitHostPort(f.devListenAddress); err != nil {
			return nil, fmt.Errorf("-dev-listen-address %q: %w", f.devListenAddress, err)
		}
		return &config.Config{
			Storage:      config.Storage{Type: "inmem"},
			Listeners:    []config.Listener{{Type: "tcp", Address: f.devListenAddress, TLSDisable: true}},
			LogLevel:     "info",
			DisableMlock: true,
		}, nil
	}
	return config.ParseFile(f.configPath)
}

func newLogger(level string, w io.Writer) *slog.Logger { return serverrun.NewLogger(level, w) }
