package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/openbao/openbao/api/v2"

	"github.com/arca-secrets/arca/audit"
)

func runAudit(e *env, args []string) int {
	return subcommands(e, "audit", args, map[string]func(*env, []string) int{
		"enable":  runAuditEnable,
		"disable": runAuditDisable,
		"list":    runAuditList,
		"verify":  runAuditVerify,
	})
}

// runAuditEnable: arca audit enable [-path=NAME] TYPE key=value...
func runAuditEnable(e *env, args []string) int {
	var path, description string
	c, _, pos, code := clientFor(e, "audit enable", args, 1, -1, func(fs *flag.FlagSet) {
		fs.StringVar(&path, "path", "", "name of the device (default: the type)")
		fs.StringVar(&description, "description", "", "a description")
	})
	if code >= 0 {
		return code
	}
	opts := map[string]string{}
	for _, kv := range pos[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usageError(e, "options are key=value, got %q", kv)
		}
		opts[k] = v
	}
	if path == "" {
		path = pos[0]
	}
	if err := c.Sys().EnableAuditWithOptions(path, &api.EnableAuditOptions{Type: pos[0], Description: description, Options: opts}); err != nil {
		return apiError(e, "enabling audit device", err)
	}
	fmt.Fprintf(e.stdout, "Success! Enabled the %s audit device at: %s/\n", pos[0], strings.Trim(path, "/"))
	return exitOK
}

func runAuditDisable(e *env, args []string) int {
	c, _, pos, code := clientFor(e, "audit disable", args, 1, 1, nil)
	if code >= 0 {
		return code
	}
	if err := c.Sys().DisableAudit(pos[0]); err != nil {
		return apiError(e, "disabling audit device", err)
	}
	fmt.Fprintf(e.stdout, "Success! Disabled audit device (if it was enabled) at: %s/\n", strings.Trim(pos[0], "/"))
	return exitOK
}

func runAuditList(e *env, args []string) int {
	c, cf, _, code := clientFor(e, "audit list", args, 0, 0, nil)
	if code >= 0 {
		return code
	}
	devices, err := c.Sys().ListAudit()
	if err != nil {
		return apiError(e, "listing audit devices", err)
	}
	if cf.format == "json" {
		_ = printJSON(e.stdout, devices)
		return exitOK
	}
	if len(devices) == 0 {
		fmt.Fprintln(e.stdout, "No audit devices are enabled.")
		return exitOK
	}
	names := make([]string, 0, len(devices))
	for n := range devices {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 4, ' ', 0)
	fmt.Fprintln(tw, "Path\tType\tDescription")
	fmt.Fprintln(tw, "----\t----\t-----------")
	for _, n := range names {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", n, devices[n].Type, devices[n].Description)
	}
	tw.Flush()
	return exitOK
}

// runAuditVerify checks an audit log's hash chain; no server needed.
func runAuditVerify(e *env, args []string) int {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	pos, ok := parseFlags(e, fs, args)
	if !ok {
		return exitUsage
	}
	if len(pos) != 1 {
		return usageError(e, "Usage: arca audit verify FILE")
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return usageError(e, "%v", err)
	}
	defer f.Close()
	n, err := audit.Verify(f)
	var ce *audit.ChainError
	switch {
	case errors.As(err, &ce):
		fmt.Fprintf(e.stderr, "FAILED: %s: %v (%d lines before it are intact)\n", pos[0], ce, n)
		return exitError
	case err != nil:
		fmt.Fprintf(e.stderr, "Error reading %s: %v\n", pos[0], err)
		return exitError
	}
	fmt.Fprintf(e.stdout, "OK: %s: %d lines, chain intact\n", pos[0], n)
	return exitOK
}
