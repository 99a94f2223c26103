package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseData(t *testing.T) {
	file := filepath.Join(t.TempDir(), "v.txt")
	if err := os.WriteFile(file, []byte("from file"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		stdin   string
		args    []string
		want    map[string]any
		wantErr string
	}{
		{name: "pairs", args: []string{"a=1", "b=x=y"}, want: map[string]any{"a": "1", "b": "x=y"}},
		{name: "empty value", args: []string{"a="}, want: map[string]any{"a": ""}},
		{name: "stdin value", stdin: "secret\n", args: []string{"a=-"}, want: map[string]any{"a": "secret"}},
		{name: "file value", args: []string{"a=@" + file}, want: map[string]any{"a": "from file"}},
		{name: "json object", stdin: `{"a":{"b":1}}`, args: []string{"-"}, want: map[string]any{"a": map[string]any{"b": jsonNumber("1")}}},
		{name: "no equals", args: []string{"novalue"}, wantErr: "expected key=value"},
		{name: "empty key", args: []string{"=v"}, wantErr: "expected key=value"},
		{name: "two stdin values", stdin: "x", args: []string{"a=-", "b=-"}, wantErr: "only one value"},
		{name: "missing file", args: []string{"a=@/nonexistent/file"}, wantErr: "reading a from file"},
		{name: "bad json", stdin: "[1]", args: []string{"-"}, wantErr: "JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseData(strings.NewReader(tc.stdin), tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseVersions(t *testing.T) {
	got, err := parseVersions("1, 2,,3")
	if err != nil || !cmp.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("got %v, %v; want [1 2 3]", got, err)
	}
	for _, bad := range []string{"x", "0", "-1", "1,a"} {
		if _, err := parseVersions(bad); err == nil {
			t.Errorf("parseVersions(%q) succeeded", bad)
		}
	}
}
