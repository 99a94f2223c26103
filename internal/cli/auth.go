package cli

import (
	"flag"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/openbao/openbao/api/v2"
)

func runAuth(e *env, args []string) int {
	return subcommands(e, "auth", args, map[string]func(*env, []string) int{
		"enable":  runAuthEnable,
		"disable": runAuthDisable,
		"list":    runAuthList,
	})
}

func runAuthEnable(e *env, args []string) int {
	var path, description string
	c, _, pos, code := clientFor(e, "auth enable", args, 1, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&path, "path", "", "where to mount, under auth/ (default: the method type)")
		fs.StringVar(&description, "description", "", "a description of the mount")
	})
	if code >= 0 {
		return code
	}
	if path == "" {
		path = pos[0]
	}
	path = strings.Trim(path, "/") + "/"
	if err := c.Sys().EnableAuthWithOptions(path, &api.EnableAuthOptions{Type: pos[0], Description: description}); err != nil {
		return apiError(e, "enabling auth method", err)
	}
	fmt.Fprintf(e.stdout, "Success! Enabled %s auth method at: %s\n", pos[0], path)
	return exitOK
}

func runAuthDisable(e *env, args []string) int {
	c, _, pos, code := clientFor(e, "auth disable", args, 1, 1, nil)
	if code >= 0 {
		return code
	}
	path := strings.Trim(pos[0], "/") + "/"
	if err := c.Sys().DisableAuth(path); err != nil {
		return apiError(e, "disabling auth method", err)
	}
	fmt.Fprintf(e.stdout, "Success! Disabled the auth method (if it existed) at: %s\n", path)
	return exitOK
}

func runAuthList(e *env, args []string) int {
	c, cf, _, code := clientFor(e, "auth list", args, 0, 0, nil)
	if code >= 0 {
		return code
	}
	auths, err := c.Sys().ListAuth()
	if err != nil {
		return apiError(e, "listing auth methods", err)
	}
	if cf.format == "json" {
		_ = printJSON(e.stdout, auths)
		return exitOK
	}
	paths := make([]string, 0, len(auths))
	for p := range auths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 4, ' ', 0)
	fmt.Fprintln(tw, "Path\tType\tAccessor\tDescription")
	fmt.Fprintln(tw, "----\t----\t--------\t-----------")
	for _, p := range paths {
		a := auths[p]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p, a.Type, a.Accessor, a.Description)
	}
	tw.Flush()
	return exitOK
}
