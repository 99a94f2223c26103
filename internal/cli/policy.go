package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/hashicorp/hcl/hcl/printer"

	"github.com/arca-secrets/arca/policy"
)

func runPolicy(e *env, args []string) int {
	return subcommands(e, "policy", args, map[string]func(*env, []string) int{
		"write":  runPolicyWrite,
		"read":   runPolicyRead,
		"list":   runPolicyList,
		"delete": runPolicyDelete,
		"fmt":    runPolicyFmt,
	})
}

// readPolicyFile reads a policy from a file, or stdin for "-".
func readPolicyFile(e *env, path string) (string, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(e.stdin)
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return "", fmt.Errorf("reading policy: %w", err)
	}
	return string(b), nil
}

func runPolicyWrite(e *env, args []string) int {
	c, _, pos, code := clientFor(e, "policy write", args, 2, 2, nil)
	if code >= 0 {
		return code
	}
	text, err := readPolicyFile(e, pos[1])
	if err != nil {
		return usageError(e, "%v", err)
	}
	if err := c.Sys().PutPolicy(pos[0], text); err != nil {
		return apiError(e, "uploading policy", err)
	}
	fmt.Fprintf(e.stdout, "Success! Uploaded policy: %s\n", pos[0])
	return exitOK
}

func runPolicyRead(e *env, args []string) int {
	c, cf, pos, code := clientFor(e, "policy read", args, 1, 1, nil)
	if code >= 0 {
		return code
	}
	text, err := c.Sys().GetPolicy(pos[0])
	if err != nil {
		return apiError(e, "reading policy", err)
	}
	if text == "" && pos[0] != "root" {
		fmt.Fprintf(e.stderr, "No policy named: %s\n", pos[0])
		return 2
	}
	if cf.format == "json" {
		_ = printJSON(e.stdout, map[string]string{"name": pos[0], "policy": text})
		return exitOK
	}
	fmt.Fprint(e.stdout, text)
	return exitOK
}

func runPolicyList(e *env, args []string) int {
	c, cf, _, code := clientFor(e, "policy list", args, 0, 0, nil)
	if code >= 0 {
		return code
	}
	names, err := c.Sys().ListPolicies()
	if err != nil {
		return apiError(e, "listing policies", err)
	}
	sort.Strings(names)
	if cf.format == "json" {
		_ = printJSON(e.stdout, names)
		return exitOK
	}
	for _, n := range names {
		fmt.Fprintln(e.stdout, n)
	}
	return exitOK
}

func runPolicyDelete(e *env, args []string) int {
	c, _, pos, code := clientFor(e, "policy delete", args, 1, 1, nil)
	if code >= 0 {
		return code
	}
	if err := c.Sys().DeletePolicy(pos[0]); err != nil {
		return apiError(e, "deleting policy", err)
	}
	fmt.Fprintf(e.stdout, "Success! Deleted policy: %s\n", pos[0])
	return exitOK
}

// runPolicyFmt checks a policy file and rewrites it in canonical HCL
// formatting. It needs no server.
func runPolicyFmt(e *env, args []string) int {
	fs := flag.NewFlagSet("policy fmt", flag.ContinueOnError)
	pos, ok := parseFlags(e, fs, args)
	if !ok {
		return exitUsage
	}
	if len(pos) != 1 {
		return usageError(e, "Usage: arca policy fmt FILE")
	}
	src, err := os.ReadFile(pos[0])
	if err != nil {
		return usageError(e, "reading policy: %v", err)
	}
	if _, err := policy.Parse(pos[0], string(src)); err != nil {
		fmt.Fprintf(e.stderr, "Error: %v\n", err)
		return exitError
	}
	out, err := printer.Format(src)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error formatting policy: %v\n", err)
		return exitError
	}
	info, err := os.Stat(pos[0])
	if err != nil {
		return apiError(e, "formatting", err)
	}
	if err := os.WriteFile(pos[0], out, info.Mode().Perm()); err != nil {
		return apiError(e, "writing policy", err)
	}
	fmt.Fprintf(e.stdout, "Success! Formatted policy: %s\n", pos[0])
	return exitOK
}
