package cli

import (
	"flag"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

func runKVMetadata(e *env, args []string) int {
	return subcommands(e, "kv metadata", args, map[string]func(*env, []string) int{
		"get":    runKVMetadataGet,
		"put":    runKVMetadataPut,
		"delete": runKVMetadataDelete,
	})
}

func runKVMetadataGet(e *env, args []string) int {
	c, cf, t, _, code := kvCommand(e, "kv metadata get", args, 1, 1, nil)
	if code >= 0 {
		return code
	}
	if t.version != 2 {
		return usageError(e, "kv metadata needs a KV version 2 mount")
	}
	s, err := c.Logical().Read(t.apiPath("metadata"))
	if err != nil {
		return apiError(e, "reading "+t.apiPath("metadata"), err)
	}
	if s == nil {
		fmt.Fprintf(e.stderr, "No value found at %s\n", t.apiPath("metadata"))
		return 2
	}
	if cf.format == "json" {
		_ = printJSON(e.stdout, s)
		return exitOK
	}
	versions, _ := s.Data["versions"].(map[string]any)
	top := map[string]any{}
	for k, v := range s.Data {
		if k != "versions" {
			top[k] = v
		}
	}
	header(e.stdout, "Metadata Path")
	fmt.Fprintf(e.stdout, "%s\n\n", t.apiPath("metadata"))
	header(e.stdout, "Metadata")
	printTable(e.stdout, mapRows(top))
	nums := make([]int, 0, len(versions))
	for k := range versions {
		if n, err := strconv.Atoi(k); err == nil {
			nums = append(nums, n)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(nums)))
	for _, n := range nums {
		v, _ := versions[strconv.Itoa(n)].(map[string]any)
		fmt.Fprintln(e.stdout)
		header(e.stdout, fmt.Sprintf("Version %d", n))
		printTable(e.stdout, mapRows(v))
	}
	return exitOK
}

// customMetadata collects repeated -custom-metadata=k=v flags.
type customMetadata map[string]string

func (m customMetadata) String() string { return "" }
func (m customMetadata) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("expected key=value, got %q", s)
	}
	m[k] = v
	return nil
}

func runKVMetadataPut(e *env, args []string) int {
	var maxVersions int
	var casRequired bool
	var deleteAfter string
	custom := customMetadata{}
	var fs *flag.FlagSet
	c, _, t, _, code := kvCommand(e, "kv metadata put", args, 1, 1, func(f *flag.FlagSet) {
		fs = f
		f.IntVar(&maxVersions, "max-versions", 0, "versions to keep (0: the mount's setting)")
		f.BoolVar(&casRequired, "cas-required", false, "require -cas on every write")
		f.StringVar(&deleteAfter, "delete-version-after", "", "delete each version after this duration, e.g. 720h")
		f.Var(custom, "custom-metadata", "key=value metadata; repeatable")
	})
	if code >= 0 {
		return code
	}
	if t.version != 2 {
		return usageError(e, "kv metadata needs a KV version 2 mount")
	}
	body := map[string]any{}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "max-versions":
			body["max_versions"] = maxVersions
		case "cas-required":
			body["cas_required"] = casRequired
		case "delete-version-after":
			body["delete_version_after"] = deleteAfter
		case "custom-metadata":
			body["custom_metadata"] = map[string]string(custom)
		}
	})
	if _, err := c.Logical().Write(t.apiPath("metadata"), body); err != nil {
		return apiError(e, "writing "+t.apiPath("metadata"), err)
	}
	fmt.Fprintf(e.stdout, "Success! Data written to: %s\n", t.apiPath("metadata"))
	return exitOK
}

func runKVMetadataDelete(e *env, args []string) int {
	c, _, t, _, code := kvCommand(e, "kv metadata delete", args, 1, 1, nil)
	if code >= 0 {
		return code
	}
	if t.version != 2 {
		return usageError(e, "kv metadata needs a KV version 2 mount")
	}
	if _, err := c.Logical().Delete(t.apiPath("metadata")); err != nil {
		return apiError(e, "deleting "+t.apiPath("metadata"), err)
	}
	fmt.Fprintf(e.stdout, "Success! Data deleted (if it existed) at: %s\n", t.apiPath("metadata"))
	return exitOK
}
