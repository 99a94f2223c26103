package guardrails

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// skipExceptions are the tests allowed to call t.Skip directly although
// they do not skip for -short, by file and function, each with the reason.
// Everything else that skips goes through internal/testenv, so that a CI
// run with ARCA_TEST_REQUIRE_ALL=1 fails instead of passing a test that
// never ran.
var skipExceptions = map[string]string{
	"internal/e2e/agent_test.go:TestAgentRefusesReusedPID": "skips when another process wins the race for the freed pid: chance, not the machine",
}

// TestSkipsGoThroughTestenv finds every t.Skip, t.Skipf and t.SkipNow in
// the module's tests and refuses those that are neither under an
// if testing.Short() nor in skipExceptions.
func TestSkipsGoThroughTestenv(t *testing.T) {
	root := filepath.Join("..", "..")
	used := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && p != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if path.Dir(rel) == "internal/testenv" {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		for _, s := range directSkips(f) {
			key := rel + ":" + s.fn
			if _, ok := skipExceptions[key]; ok {
				used[key] = true
				continue
			}
			t.Errorf("%s:%d: %s skips with t.%s; use testenv.Unavailable or testenv.RequireRoot when the machine lacks something (they fail under ARCA_TEST_REQUIRE_ALL), or skip only under testing.Short()",
				rel, fset.Position(s.pos).Line, s.fn, s.method)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for key := range skipExceptions {
		if !used[key] {
			t.Errorf("skipExceptions names %s, which no longer skips: remove it", key)
		}
	}
}

type skipCall struct {
	fn, method string
	pos        token.Pos
}

// directSkips returns the calls of a Skip method in f that are not under
// an if whose condition calls testing.Short, with the function they are
// in.
func directSkips(f *ast.File) []skipCall {
	imported := map[string]bool{}
	for _, spec := range f.Imports {
		p, _ := strconv.Unquote(spec.Path.Value)
		name := path.Base(p)
		if spec.Name != nil {
			name = spec.Name.Name
		}
		imported[name] = true
	}
	var out []skipCall
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		var stack []ast.Node
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			stack = append(stack, n)
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			recv, ok := sel.X.(*ast.Ident)
			if !ok || imported[recv.Name] {
				return true
			}
			switch sel.Sel.Name {
			case "Skip", "Skipf", "SkipNow":
			default:
				return true
			}
			for _, outer := range stack {
				if ifs, ok := outer.(*ast.IfStmt); ok && callsTestingShort(ifs.Cond) {
					return true
				}
			}
			out = append(out, skipCall{fn: fn.Name.Name, method: sel.Sel.Name, pos: call.Pos()})
			return true
		})
	}
	return out
}

func callsTestingShort(cond ast.Expr) bool {
	found := false
	ast.Inspect(cond, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Short" {
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "testing" {
					found = true
				}
			}
		}
		return !found
	})
	return found
}

func TestDirectSkips(t *testing.T) {
	src := `package x

import "testing"

func TestShort(t *testing.T) {
	if testing.Short() && true {
		t.Skip("slow")
	}
}

func TestMachine(t *testing.T) {
	if notRoot() {
		t.Skipf("needs root")
	}
}

func helper(tb testing.TB) { tb.SkipNow() }
`
	f, err := parser.ParseFile(token.NewFileSet(), "x_test.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range directSkips(f) {
		got = append(got, s.fn+"."+s.method)
	}
	if want := "TestMachine.Skipf helper.SkipNow"; strings.Join(got, " ") != want {
		t.Errorf("directSkips = %q, want %q", strings.Join(got, " "), want)
	}
}
