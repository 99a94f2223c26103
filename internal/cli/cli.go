// Package cli implements the arca command line: server, operator, kv,
// secrets, read/write/list/delete and status.
package cli

import (
	"fmt"
	"io"
)

// Main runs the command named by args[0] and returns the exit code.
// PLACEHOLDER: the CLI helper replaces this file.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "server" {
		return runServer(args[1:], stdout, stderr)
	}
	fmt.Fprintln(stderr, "usage: arca <command> [args]")
	return 1
}
