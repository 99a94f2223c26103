package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/openbao/openbao/api/v2"
)

func runKV(e *env, args []string) int {
	return subcommands(e, "kv", args, map[string]func(*env, []string) int{
		"put":      runKVPut,
		"patch":    runKVPatch,
		"get":      runKVGet,
		"list":     runKVList,
		"delete":   runKVDelete,
		"undelete": func(e *env, a []string) int { return runKVVersions(e, "undelete", a) },
		"destroy":  func(e *env, a []string) int { return runKVVersions(e, "destroy", a) },
		"metadata": runKVMetadata,
	})
}

// kvCommand parses a kv subcommand's flags and resolves its path.
func kvCommand(e *env, name string, args []string, minArgs, maxArgs int, addFlags func(*flag.FlagSet)) (*api.Client, *commonFlags, kvTarget, []string, int) {
	var mount string
	c, cf, pos, code := clientFor(e, name, args, minArgs, maxArgs, func(fs *flag.FlagSet) {
		fs.StringVar(&mount, "mount", "", "the KV mount; the path is then relative to it")
		if addFlags != nil {
			addFlags(fs)
		}
	})
	if code >= 0 {
		return nil, nil, kvTarget{}, nil, code
	}
	t, err := resolveKV(c, mount, pos[0])
	if err != nil {
		return nil, nil, kvTarget{}, nil, apiError(e, "resolving "+pos[0], err)
	}
	return c, cf, t, pos[1:], -1
}

func runKVPut(e *env, args []string) int {
	cas := -1
	c, cf, t, rest, code := kvCommand(e, "kv put", args, 2, -1, func(fs *flag.FlagSet) {
		fs.IntVar(&cas, "cas", -1, "check-and-set: write only if the current version is this (0: only if new)")
	})
	if code >= 0 {
		return code
	}
	data, err := parseData(e.stdin, rest)
	if err != nil {
		return usageError(e, "Failed to parse K=V data: %v", err)
	}
	body := data
	if t.version == 2 {
		body = map[string]any{"data": data}
		if cas >= 0 {
			body["options"] = map[string]any{"cas": cas}
		}
	} else if cas >= 0 {
		return usageError(e, "-cas needs a KV version 2 mount")
	}
	s, err := c.Logical().Write(t.apiPath("data"), body)
	if err != nil {
		return apiError(e, "writing data to "+t.apiPath("data"), err)
	}
	return printWriteResult(e, cf.format, t, s)
}

func runKVPatch(e *env, args []string) int {
	cas := -1
	c, cf, t, rest, code := kvCommand(e, "kv patch", args, 2, -1, func(fs *flag.FlagSet) {
		fs.IntVar(&cas, "cas", -1, "check-and-set: patch only if the current version is this")
	})
	if code >= 0 {
		return code
	}
	if t.version != 2 {
		return usageError(e, "kv patch needs a KV version 2 mount")
	}
	data, err := parseData(e.stdin, rest)
	if err != nil {
		return usageError(e, "Failed to parse K=V data: %v", err)
	}
	body := map[string]any{"data": data}
	if cas >= 0 {
		body["options"] = map[string]any{"cas": cas}
	}
	s, err := c.Logical().JSONMergePatch(context.Background(), t.apiPath("data"), body)
	if err != nil {
		return apiError(e, "patching data at "+t.apiPath("data"), err)
	}
	return printWriteResult(e, cf.format, t, s)
}

func printWriteResult(e *env, format string, t kvTarget, s *api.Secret) int {
	if s == nil {
		fmt.Fprintf(e.stdout, "Success! Data written to: %s\n", t.apiPath("data"))
		return exitOK
	}
	if format == "json" {
		_ = printJSON(e.stdout, s)
		return exitOK
	}
	header(e.stdout, "Secret Path")
	fmt.Fprintf(e.stdout, "%s\n\n", t.apiPath("data"))
	header(e.stdout, "Metadata")
	printTable(e.stdout, mapRows(s.Data))
	return exitOK
}

func runKVGet(e *env, args []string) int {
	var field string
	version := 0
	c, cf, t, _, code := kvCommand(e, "kv get", args, 1, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&field, "field", "", "print only this field's value")
		fs.IntVar(&version, "version", 0, "the version to read (KV v2; default latest)")
	})
	if code >= 0 {
		return code
	}
	var query map[string][]string
	if version > 0 {
		if t.version != 2 {
			return usageError(e, "-version needs a KV version 2 mount")
		}
		query = map[string][]string{"version": {strconv.Itoa(version)}}
	}
	s, err := c.Logical().ReadWithData(t.apiPath("data"), query)
	if err != nil {
		return apiError(e, "reading "+t.apiPath("data"), err)
	}
	if s == nil {
		fmt.Fprintf(e.stderr, "No value found at %s\n", t.apiPath("data"))
		return 2
	}
	data := s.Data
	var meta map[string]any
	if t.version == 2 {
		meta, _ = s.Data["metadata"].(map[string]any)
		data, _ = s.Data["data"].(map[string]any)
		if data == nil && cf.format == "table" && field == "" {
			header(e.stdout, "Metadata")
			printTable(e.stdout, mapRows(meta))
			fmt.Fprintf(e.stderr, "\nNo value found at %s: the version was deleted or destroyed\n", t.apiPath("data"))
			return 2
		}
	}
	if field != "" {
		return printField(e, data, field)
	}
	if cf.format == "json" {
		_ = printJSON(e.stdout, s)
		return exitOK
	}
	if t.version == 2 {
		header(e.stdout, "Secret Path")
		fmt.Fprintf(e.stdout, "%s\n\n", t.apiPath("data"))
		header(e.stdout, "Metadata")
		printTable(e.stdout, mapRows(meta))
		fmt.Fprintln(e.stdout)
		header(e.stdout, "Data")
	}
	printTable(e.stdout, mapRows(data))
	return exitOK
}

func runKVList(e *env, args []string) int {
	c, cf, t, _, code := kvCommand(e, "kv list", args, 1, 1, nil)
	if code >= 0 {
		return code
	}
	p := t.apiPath("metadata")
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	s, err := c.Logical().List(p)
	if err != nil {
		return apiError(e, "listing "+p, err)
	}
	if s == nil {
		fmt.Fprintf(e.stderr, "No value found at %s\n", p)
		return 2
	}
	return printKeys(e, cf.format, s)
}

// parseVersions reads "-versions=1,2,3".
func parseVersions(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("invalid version %q in -versions", part)
		}
		out = append(out, n)
	}
	return out, nil
}

func runKVDelete(e *env, args []string) int {
	var versions string
	c, _, t, _, code := kvCommand(e, "kv delete", args, 1, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&versions, "versions", "", "comma-separated versions to delete (KV v2; default the latest)")
	})
	if code >= 0 {
		return code
	}
	var err error
	target := t.apiPath("data")
	if versions == "" {
		_, err = c.Logical().Delete(target)
	} else {
		if t.version != 2 {
			return usageError(e, "-versions needs a KV version 2 mount")
		}
		vs, perr := parseVersions(versions)
		if perr != nil {
			return usageError(e, "%v", perr)
		}
		target = t.apiPath("delete")
		_, err = c.Logical().Write(target, map[string]any{"versions": vs})
	}
	if err != nil {
		return apiError(e, "deleting "+target, err)
	}
	fmt.Fprintf(e.stdout, "Success! Data deleted (if it existed) at: %s\n", target)
	return exitOK
}

// runKVVersions runs undelete or destroy, which both take -versions.
func runKVVersions(e *env, op string, args []string) int {
	var versions string
	c, _, t, _, code := kvCommand(e, "kv "+op, args, 1, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&versions, "versions", "", "comma-separated versions (required)")
	})
	if code >= 0 {
		return code
	}
	if t.version != 2 {
		return usageError(e, "kv %s needs a KV version 2 mount", op)
	}
	vs, err := parseVersions(versions)
	if err != nil || len(vs) == 0 {
		return usageError(e, "kv %s: give the versions with -versions=1,2", op)
	}
	target := t.apiPath(op)
	if _, err := c.Logical().Write(target, map[string]any{"versions": vs}); err != nil {
		return apiError(e, op+" at "+target, err)
	}
	fmt.Fprintf(e.stdout, "Success! Data written to: %s\n", target)
	return exitOK
}
