package guardrails

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// packages returns every directory of the module holding non-test Go files.
func packages(t *testing.T) map[string][]string {
	t.Helper()
	root := filepath.Join("..", "..")
	out := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			out[filepath.Dir(path)] = append(out[filepath.Dir(path)], path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEveryPackageHasOneDocComment(t *testing.T) {
	for dir, files := range packages(t) {
		docs := 0
		for _, f := range files {
			parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if parsed.Doc != nil {
				docs++
			}
		}
		if docs != 1 {
			t.Errorf("package %s has %d package doc comments, want 1", dir, docs)
		}
	}
}

func TestNoFileTooLong(t *testing.T) {
	const limit = 800
	for _, files := range packages(t) {
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(b), "\n"); n > limit {
				t.Errorf("%s has %d lines; split it by concept (limit %d)", f, n, limit)
			}
		}
	}
}

func TestNoPackageTooLarge(t *testing.T) {
	const limit = 4000
	for dir, files := range packages(t) {
		n := 0
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			n += strings.Count(string(b), "\n")
		}
		if n > limit {
			t.Errorf("package %s has %d lines of non-test Go; split it by concept (limit %d)", dir, n, limit)
		}
	}
}
