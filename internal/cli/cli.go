// Package cli implements the arca command line: server, status, operator,
// kv, secrets, and the generic read/write/list/delete. Client commands are
// built on the OpenBao API client, so they speak the same Vault HTTP API
// that any other client does.
package cli

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit codes, as Vault's CLI uses them.
const (
	exitOK    = 0
	exitError = 1 // the server or the network said no
	exitUsage = 2 // the command line is wrong
)

// env is what a command runs with; tests replace nothing here, they run
// the real binary.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

type command struct {
	synopsis string
	run      func(e *env, args []string) int
}

func commands() map[string]command {
	return map[string]command{
		"server":   {"Start an Arca server", func(e *env, args []string) int { return runServer(args, e.stdout, e.stderr) }},
		"status":   {"Print seal and HA status", runStatus},
		"operator": {"Initialise, unseal, seal, rotate, rekey and generate a root token", runOperator},
		"kv":       {"Read and write key/value secrets", runKV},
		"secrets":  {"Enable, list and disable secrets engines", runSecrets},
		"read":     {"Read data at a path", runRead},
		"write":    {"Write data to a path", runWrite},
		"list":     {"List the names under a path", runList},
		"delete":   {"Delete data at a path", runDelete},
		"policy":   {"Write, read, list, delete and format ACL policies", runPolicy},
		"token":    {"Create, look up, renew and revoke tokens", runToken},
		"login":    {"Authenticate and store the token", runLogin},
		"auth":     {"Enable, list and disable auth methods", runAuth},
		"audit":    {"Enable, list, disable audit devices; verify an audit log", runAudit},
		"lease":    {"Look up, renew and revoke leases", runLease},
		"events":   {"Subscribe to change events (KV writes, revoked leases, policy changes)", runEvents},
		"bench":    {"Load-test a Vault-compatible server", runBench},
		"agent":    {"Serve secrets to local processes, recognised by their kernel credentials", runAgent},
		"volume":   {"Bind LUKS volumes to Arca, unlock and rotate them", runVolume},
	}
}

// Main runs the command named by args[0] and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		usage(stdout, cmds)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "arca: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return exitUsage
	}
	return c.run(e, args[1:])
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("Usage: arca <command> [args]\n\nCommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "    %-10s %s\n", n, cmds[n].synopsis)
	}
	b.WriteString("\nRun \"arca <command> -h\" for a command's flags.\n")
	fmt.Fprint(w, b.String())
}

// subcommands dispatches "arca group sub args..." for operator, kv and
// kv metadata.
func subcommands(e *env, group string, args []string, subs map[string]func(*env, []string) int) int {
	names := make([]string, 0, len(subs))
	for n := range subs {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" {
		fmt.Fprintf(e.stderr, "Usage: arca %s <%s> [args]\n", group, strings.Join(names, "|"))
		return exitUsage
	}
	run, ok := subs[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "arca %s: unknown subcommand %q (one of: %s)\n", group, args[0], strings.Join(names, ", "))
		return exitUsage
	}
	return run(e, args[1:])
}
