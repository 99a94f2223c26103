package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/openbao/openbao/api/v2"
	"golang.org/x/term"
)

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// formatValue renders a value for a table cell: strings as they are,
// anything else as Go prints it for scalars, or JSON for structures.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "<nil>"
	case string:
		return x
	case json.Number, bool, int, int64, float64:
		return fmt.Sprint(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// kvRow is one row of a Key/Value table.
type kvRow struct{ key, value string }

// printTable prints rows under a "Key Value" header, aligned.
func printTable(w io.Writer, rows []kvRow) {
	tw := tabwriter.NewWriter(w, 0, 4, 4, ' ', 0)
	fmt.Fprintln(tw, "Key\tValue")
	fmt.Fprintln(tw, "---\t-----")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r.key, r.value)
	}
	tw.Flush()
}

// mapRows returns the rows of m sorted by key.
func mapRows(m map[string]any) []kvRow {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rows := make([]kvRow, 0, len(keys))
	for _, k := range keys {
		rows = append(rows, kvRow{k, formatValue(m[k])})
	}
	return rows
}

// secretRows are the rows Vault prints for a secret: lease fields when
// there is a lease, then the data.
func secretRows(s *api.Secret) []kvRow {
	var rows []kvRow
	if s.LeaseID != "" {
		rows = append(rows, kvRow{"lease_id", s.LeaseID}, kvRow{"lease_duration", fmt.Sprintf("%ds", s.LeaseDuration)}, kvRow{"lease_renewable", fmt.Sprint(s.Renewable)})
	}
	return append(rows, mapRows(s.Data)...)
}

// printSecret prints a secret in the chosen format.
func printSecret(e *env, format string, s *api.Secret) {
	if format == "json" {
		_ = printJSON(e.stdout, s)
		return
	}
	for _, w := range s.Warnings {
		fmt.Fprintf(e.stdout, "WARNING! %s\n\n", w)
	}
	printTable(e.stdout, secretRows(s))
}

// printField prints one field's value for -field. Like Vault, no newline
// is added when the output is not a terminal, so $(arca ...) is exact.
func printField(e *env, data map[string]any, field string) int {
	v, ok := data[field]
	if !ok {
		fmt.Fprintf(e.stderr, "Field %q not present in secret\n", field)
		return exitError
	}
	fmt.Fprint(e.stdout, formatValue(v))
	if f, ok := e.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintln(e.stdout)
	}
	return exitOK
}

// header prints a section header like Vault's "====== Data ======".
func header(w io.Writer, title string) {
	bar := strings.Repeat("=", max(3, (24-len(title))/2))
	fmt.Fprintf(w, "%s %s %s\n", bar, title, bar)
}

// printKeys prints a LIST result.
func printKeys(e *env, format string, s *api.Secret) int {
	if format == "json" {
		keys := s.Data["keys"]
		if keys == nil {
			keys = []any{}
		}
		_ = printJSON(e.stdout, keys)
		return exitOK
	}
	keys, _ := s.Data["keys"].([]any)
	fmt.Fprintln(e.stdout, "Keys")
	fmt.Fprintln(e.stdout, "----")
	for _, k := range keys {
		fmt.Fprintln(e.stdout, formatValue(k))
	}
	return exitOK
}
