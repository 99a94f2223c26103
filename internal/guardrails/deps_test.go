package guardrails

import (
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// layering is the dependency direction of ARCHITECTURE.md: each rule names
// packages (a path relative to the module, "x/..." for x and everything
// under it) and what they must never reach, directly or through another
// package. An entry of never that contains a dot is a module outside this
// one, matched by prefix.
var layering = []struct {
	name  string
	from  []string
	never []string
}{
	{
		name:  "engines answer for their own paths through logical; they know nothing of core, HTTP or the commands",
		from:  []string{"secrets/...", "auth/..."},
		never: []string{"core/...", "server/...", "internal/cli/...", "agent/..."},
	},
	{
		name:  "core is the pipeline and the node state, below the HTTP layer and the commands",
		from:  []string{"core/..."},
		never: []string{"server/...", "internal/cli/...", "agent/..."},
	},
	{
		name: "the layers under core are used by core, never the other way round",
		from: []string{"storage/...", "barrier/...", "seal/...", "secmem/...", "policy/...",
			"token/...", "lease/...", "audit/...", "logical/..."},
		never: []string{"core/...", "server/...", "internal/cli/...", "agent/..."},
	},
	{
		name: "the agent runs on every host and speaks HTTP to the server: it carries no storage, keys or server code",
		from: []string{"agent/..."},
		never: []string{"storage/...", "barrier/...", "seal/...", "core/...", "server/...",
			"secrets/...", "auth/...", "go.etcd.io/bbolt", "github.com/hashicorp/raft", "github.com/jackc/pgx"},
	},
}

// graph is the module's packages, by path relative to the module, and
// what each imports from its non-test files: other packages of the module
// by relative path, anything else by import path.
type graph struct {
	module  string
	imports map[string][]string
}

func loadGraph(t *testing.T) graph {
	t.Helper()
	root := filepath.Join("..", "..")
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var g graph
	for _, line := range strings.Split(string(mod), "\n") {
		if m, ok := strings.CutPrefix(line, "module "); ok {
			g.module = strings.TrimSpace(m)
		}
	}
	if g.module == "" {
		t.Fatal("go.mod names no module")
	}
	g.imports = map[string][]string{}
	for dir, files := range packages(t) {
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			t.Fatal(err)
		}
		pkg := filepath.ToSlash(rel)
		for _, f := range files {
			parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, spec := range parsed.Imports {
				path, err := strconv.Unquote(spec.Path.Value)
				if err != nil {
					t.Fatal(err)
				}
				if in, ok := strings.CutPrefix(path, g.module+"/"); ok {
					path = in
				}
				if !slices.Contains(g.imports[pkg], path) {
					g.imports[pkg] = append(g.imports[pkg], path)
				}
			}
		}
		if _, ok := g.imports[pkg]; !ok {
			g.imports[pkg] = nil
		}
	}
	return g
}

// matches reports whether pkg is named by pattern: "x" is x itself, "x/..."
// is x and everything under it, and a pattern with a dot in its first
// element (another module) is a prefix.
func matches(pattern, pkg string) bool {
	if first, _, _ := strings.Cut(pattern, "/"); strings.Contains(first, ".") {
		return pkg == pattern || strings.HasPrefix(pkg, pattern+"/")
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

// reach returns, for every import reachable from pkg, the chain of
// imports that first reaches it (pkg first).
func (g graph) reach(pkg string) map[string][]string {
	chains := map[string][]string{pkg: {pkg}}
	queue := []string{pkg}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, imp := range g.imports[p] {
			if _, seen := chains[imp]; seen {
				continue
			}
			chains[imp] = append(slices.Clone(chains[p]), imp)
			if _, internal := g.imports[imp]; internal {
				queue = append(queue, imp)
			}
		}
	}
	return chains
}

func TestDependencyDirection(t *testing.T) {
	for _, v := range layeringViolations(loadGraph(t)) {
		t.Error(v)
	}
}

// layeringViolations says, for every package that reaches what a rule
// forbids it, what it reaches, through which imports, and why not.
func layeringViolations(g graph) []string {
	pkgs := make([]string, 0, len(g.imports))
	for p := range g.imports {
		pkgs = append(pkgs, p)
	}
	slices.Sort(pkgs)
	var out []string
	for _, rule := range layering {
		for _, pkg := range pkgs {
			if !slices.ContainsFunc(rule.from, func(pat string) bool { return matches(pat, pkg) }) {
				continue
			}
			for imp, chain := range g.reach(pkg) {
				for _, never := range rule.never {
					if imp != pkg && matches(never, imp) {
						out = append(out, fmt.Sprintf("%s imports %s (%s), but %s", pkg, imp, strings.Join(chain, " → "), rule.name))
					}
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestLayeringViolations feeds the check a made-up module with one
// violation of each kind: a direct one, one through another package, and
// one of another module.
func TestLayeringViolations(t *testing.T) {
	g := graph{imports: map[string][]string{
		"core":           {"storage", "server"},
		"server":         {"core"},
		"storage":        nil,
		"secrets/kv":     {"logical"},
		"logical":        {"storage", "core"},
		"agent":          {"agent/cache"},
		"agent/cache":    {"github.com/jackc/pgx/v5"},
		"internal/cli":   {"server", "agent"},
		"auth/approle":   {"logical"},
		"seal/shamir":    nil,
		"policy":         nil,
		"internal/other": {"core"},
	}}
	got := layeringViolations(g)
	for _, want := range []string{
		"core imports server (core → server)",
		"secrets/kv imports core (secrets/kv → logical → core)",
		"auth/approle imports server (auth/approle → logical → core → server)",
		"logical imports core (logical → core)",
		"agent imports github.com/jackc/pgx/v5 (agent → agent/cache → github.com/jackc/pgx/v5)",
	} {
		if !slices.ContainsFunc(got, func(v string) bool { return strings.HasPrefix(v, want) }) {
			t.Errorf("no violation %q among:\n%s", want, strings.Join(got, "\n"))
		}
	}
	for _, v := range got {
		if strings.HasPrefix(v, "internal/") || strings.HasPrefix(v, "server ") {
			t.Errorf("violation reported for a package no rule covers: %s", v)
		}
	}
}

// TestNoTestHelpersInProduction keeps test helpers (packages whose
// non-test files import "testing", such as pgtest or storagetest) out of
// every other package's non-test files, and so out of the binary.
func TestNoTestHelpersInProduction(t *testing.T) {
	g := loadGraph(t)
	helper := func(p string) bool { return slices.Contains(g.imports[p], "testing") }
	for pkg := range g.imports {
		if helper(pkg) {
			continue
		}
		for imp, chain := range g.reach(pkg) {
			if _, internal := g.imports[imp]; internal && helper(imp) {
				t.Errorf("%s imports the test helper %s (%s) outside its tests", pkg, imp, strings.Join(chain, " → "))
			}
		}
	}
}

// TestLayeringRulesName checks the rules themselves: every pattern names
// a package that exists (or, for another module, is one the rules mean),
// so that a rule cannot pass because of a typo or a move.
func TestLayeringRulesName(t *testing.T) {
	g := loadGraph(t)
	for _, rule := range layering {
		for _, pat := range slices.Concat(rule.from, rule.never) {
			if first, _, _ := strings.Cut(pat, "/"); strings.Contains(first, ".") {
				continue
			}
			found := false
			for pkg := range g.imports {
				found = found || matches(pat, pkg)
			}
			if !found {
				t.Errorf("layering rule %q names %s, which matches no package", rule.name, pat)
			}
		}
	}
}

func TestMatches(t *testing.T) {
	for _, tc := range []struct {
		pattern, pkg string
		want         bool
	}{
		{"core", "core", true},
		{"core", "core/state", false},
		{"core/...", "core", true},
		{"core/...", "core/state", true},
		{"core/...", "corex", false},
		{"github.com/jackc/pgx", "github.com/jackc/pgx/v5/pgxpool", true},
		{"github.com/jackc/pgx", "github.com/jackc/pgxlisten", false},
	} {
		if got := matches(tc.pattern, tc.pkg); got != tc.want {
			t.Errorf("matches(%q, %q) = %v, want %v", tc.pattern, tc.pkg, got, tc.want)
		}
	}
}
