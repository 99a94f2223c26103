// Command arca is the Arca server, per-host agent and command line. All of
// its logic lives in internal/cli.
package main

import (
	"os"

	"github.com/arca-secrets/arca/internal/cli"
	"github.com/arca-secrets/arca/secmem"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "server" || os.Args[1] == "agent") {
		// The server and the agent hold secrets: their collector must
		// overwrite what it frees. On failure they start anyway and warn.
		_ = secmem.ReexecClobbering()
	}
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
