package cli

import (
	"flag"
	"fmt"
	"time"

	"github.com/openbao/openbao/api/v2"
)

// defaultAddr is where a client looks without ARCA_ADDR or -address.
const defaultAddr = "https://127.0.0.1:8200"

// commonFlags are the flags every client command takes.
type commonFlags struct {
	address string
	format  string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.address, "address", "", "server address (default $ARCA_ADDR, then $VAULT_ADDR, then "+defaultAddr+")")
	fs.StringVar(&c.format, "format", "table", "output format: table or json")
}

func (c *commonFlags) validate() error {
	if c.format != "table" && c.format != "json" {
		return fmt.Errorf("-format must be table or json, got %q", c.format)
	}
	return nil
}

// firstEnv returns the first non-empty variable among names.
func (e *env) firstEnv(names ...string) string {
	for _, n := range names {
		if v := e.getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// client builds an API client from flags and ARCA_* (falling back to
// VAULT_*) variables, set explicitly so that the library's own BAO_*
// handling cannot override them.
func (e *env) client(c *commonFlags) (*api.Client, error) {
	conf := api.DefaultConfig()
	if conf.Error != nil {
		return nil, conf.Error
	}
	conf.Address = c.address
	if conf.Address == "" {
		conf.Address = e.firstEnv("ARCA_ADDR", "VAULT_ADDR")
	}
	if conf.Address == "" {
		conf.Address = defaultAddr
	}
	conf.AgentAddress = ""
	conf.MaxRetries = 0
	conf.Timeout = 60 * time.Second
	// A client certificate (ARCA_CLIENT_CERT and ARCA_CLIENT_KEY) is
	// presented in the handshake: the cert auth method's login, a host's
	// identity for arca volume, reads it there.
	if err := conf.ConfigureTLS(&api.TLSConfig{
		CACert:        e.firstEnv("ARCA_CACERT", "VAULT_CACERT"),
		TLSServerName: e.firstEnv("ARCA_TLS_SERVER_NAME", "VAULT_TLS_SERVER_NAME"),
		ClientCert:    e.firstEnv("ARCA_CLIENT_CERT", "VAULT_CLIENT_CERT"),
		ClientKey:     e.firstEnv("ARCA_CLIENT_KEY", "VAULT_CLIENT_KEY"),
	}); err != nil {
		return nil, fmt.Errorf("configuring TLS: %w", err)
	}
	client, err := api.NewClient(conf)
	if err != nil {
		return nil, err
	}
	client.ClearNamespace()
	// A person at a terminal expects to read what was just written,
	// through whichever node of a cluster: the CLI's reads are
	// linearizable (a node alone ignores the header).
	client.AddHeader("X-Arca-Consistency", "linearizable")
	if t := e.firstEnv("ARCA_TOKEN", "VAULT_TOKEN"); t != "" {
		client.SetToken(t)
	} else if t := e.storedToken(); t != "" {
		client.SetToken(t)
	} else {
		client.ClearToken()
	}
	return client, nil
}

// parseFlags parses args with fs, reporting usage errors itself. It lets
// flags follow positional arguments, as Vault's CLI does.
func parseFlags(e *env, fs *flag.FlagSet, args []string) ([]string, bool) {
	fs.SetOutput(e.stderr)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	return positional, true
}

// usageError prints a usage problem and returns the usage exit code.
func usageError(e *env, format string, args ...any) int {
	fmt.Fprintf(e.stderr, format+"\n", args...)
	return exitUsage
}

// apiError prints an error from the server and returns the error code.
func apiError(e *env, what string, err error) int {
	fmt.Fprintf(e.stderr, "Error %s: %v\n", what, err)
	return exitError
}
