// Command arca is the Arca server, per-host agent and command line. All of
// its logic lives in internal/cli.
package main

import (
	"os"

	"github.com/arca-secrets/arca/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
