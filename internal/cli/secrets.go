package cli

import (
	"flag"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/openbao/openbao/api/v2"
)

func runSecrets(e *env, args []string) int {
	return subcommands(e, "secrets", args, map[string]func(*env, []string) int{
		"enable":  runSecretsEnable,
		"disable": runSecretsDisable,
		"list":    runSecretsList,
	})
}

func runSecretsEnable(e *env, args []string) int {
	var path, description string
	version := 0
	c, _, pos, code := clientFor(e, "secrets enable", args, 1, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&path, "path", "", "where to mount (default: the engine type)")
		fs.StringVar(&description, "description", "", "a description of the mount")
		fs.IntVar(&version, "version", 0, "KV version (1 or 2) for the kv engine")
	})
	if code >= 0 {
		return code
	}
	typ := pos[0]
	if path == "" {
		path = typ
	}
	path = strings.Trim(path, "/") + "/"
	in := &api.MountInput{Type: typ, Description: description}
	if version != 0 {
		in.Options = map[string]string{"version": fmt.Sprint(version)}
	}
	if err := c.Sys().Mount(path, in); err != nil {
		return apiError(e, "enabling", err)
	}
	fmt.Fprintf(e.stdout, "Success! Enabled the %s secrets engine at: %s\n", typ, path)
	return exitOK
}

func runSecretsDisable(e *env, args []string) int {
	c, _, pos, code := clientFor(e, "secrets disable", args, 1, 1, nil)
	if code >= 0 {
		return code
	}
	path := strings.Trim(pos[0], "/") + "/"
	if err := c.Sys().Unmount(path); err != nil {
		return apiError(e, "disabling secrets engine at "+path, err)
	}
	fmt.Fprintf(e.stdout, "Success! Disabled the secrets engine (if it existed) at: %s\n", path)
	return exitOK
}

func runSecretsList(e *env, args []string) int {
	var detailed bool
	c, cf, _, code := clientFor(e, "secrets list", args, 0, 0, func(fs *flag.FlagSet) {
		fs.BoolVar(&detailed, "detailed", false, "print options and TTLs too")
	})
	if code >= 0 {
		return code
	}
	mounts, err := c.Sys().ListMounts()
	if err != nil {
		return apiError(e, "listing secrets engines", err)
	}
	if cf.format == "json" {
		_ = printJSON(e.stdout, mounts)
		return exitOK
	}
	paths := make([]string, 0, len(mounts))
	for p := range mounts {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 4, ' ', 0)
	if detailed {
		fmt.Fprintln(tw, "Path\tType\tAccessor\tDefault TTL\tMax TTL\tOptions\tDescription")
		fmt.Fprintln(tw, "----\t----\t--------\t-----------\t-------\t-------\t-----------")
	} else {
		fmt.Fprintln(tw, "Path\tType\tAccessor\tDescription")
		fmt.Fprintln(tw, "----\t----\t--------\t-----------")
	}
	for _, p := range paths {
		m := mounts[p]
		if detailed {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p, m.Type, m.Accessor, ttlString(m.Config.DefaultLeaseTTL), ttlString(m.Config.MaxLeaseTTL), formatValue(m.Options), m.Description)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p, m.Type, m.Accessor, m.Description)
		}
	}
	tw.Flush()
	return exitOK
}

func ttlString(secs int) string {
	if secs == 0 {
		return "system"
	}
	return fmt.Sprintf("%ds", secs)
}
