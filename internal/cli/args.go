package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// parseData turns "k=v" arguments into a map, as Vault's CLI does:
// "k=@file" reads the value from a file, "k=-" from stdin, and a single "-"
// argument reads a JSON object from stdin.
func parseData(stdin io.Reader, args []string) (map[string]any, error) {
	out := map[string]any{}
	if len(args) == 1 && args[0] == "-" {
		dec := json.NewDecoder(stdin)
		dec.UseNumber()
		if err := dec.Decode(&out); err != nil {
			return nil, fmt.Errorf("reading a JSON object from stdin: %w", err)
		}
		return out, nil
	}
	stdinUsed := false
	for _, arg := range args {
		k, v, ok := strings.Cut(arg, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid key/value pair %q: expected key=value", arg)
		}
		switch {
		case v == "-":
			if stdinUsed {
				return nil, errors.New("only one value can be read from stdin")
			}
			stdinUsed = true
			b, err := io.ReadAll(stdin)
			if err != nil {
				return nil, fmt.Errorf("reading %s from stdin: %w", k, err)
			}
			v = strings.TrimSuffix(string(b), "\n")
		case strings.HasPrefix(v, "@"):
			b, err := os.ReadFile(v[1:])
			if err != nil {
				return nil, fmt.Errorf("reading %s from file: %w", k, err)
			}
			v = string(b)
		}
		out[k] = v
	}
	return out, nil
}
