package core_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/logical"
)

// recEngine is a test engine whose handler records the path it is
// handed. Like userpass and AppRole it folds a name (the segment after
// "items/") to lower case, here also without surrounding spaces as the
// policy store does, and says so through logical.Canonicalizer.
type recEngine struct {
	mu   sync.Mutex
	seen []string
}

var (
	_ logical.Engine        = (*recEngine)(nil)
	_ logical.Canonicalizer = (*recEngine)(nil)
)

func (e *recEngine) HandleRequest(_ context.Context, req *logical.Request) (*logical.Response, error) {
	e.mu.Lock()
	e.seen = append(e.seen, req.Path)
	e.mu.Unlock()
	return &logical.Response{Data: map[string]any{"path": req.Path}}, nil
}

func (e *recEngine) CanonicalPath(path string) string {
	parts := strings.SplitN(path, "/", 3)
	if len(parts) < 2 || parts[0] != "items" {
		return path
	}
	// A name that would fold to an empty or dot segment is left as it is.
	if name := strings.ToLower(strings.TrimSpace(parts[1])); name != "" && name != "." && name != ".." {
		parts[1] = name
	}
	return strings.Join(parts, "/")
}

// take returns the paths seen since the last call.
func (e *recEngine) take() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.seen
	e.seen = nil
	return out
}

// recPolicy allows everything under rec/items/ except the name "secret"
// and everything under it.
const recPolicy = `
path "rec/items/*" { capabilities = ["create", "read", "update", "patch", "delete", "list"] }
path "rec/items/secret" { capabilities = ["deny"] }
path "rec/items/secret/*" { capabilities = ["deny"] }
path "rec/*" { capabilities = ["read", "list"] }
`

// recCore is an audited core with a recEngine mounted at rec/ and a
// token holding recPolicy.
type recCore struct {
	c     *core.Core
	eng   *recEngine
	root  string
	user  string
	audit func() []string
}

func newRecCore(t testing.TB, audited bool) *recCore {
	t.Helper()
	eng := &recEngine{}
	cfg := core.Config{Engines: map[string]logical.Factory{
		"rec": func(context.Context, logical.MountConfig) (logical.Engine, error) { return eng, nil },
	}}
	rc := &recCore{eng: eng}
	tt, ok := t.(*testing.T)
	if audited && ok {
		rc.c, _, rc.root, rc.audit = auditedCore(tt, cfg)
	} else {
		rc.c, _, rc.root = devCoreTB(t, cfg)
	}
	ctx := context.Background()
	if err := rc.c.Mount(ctx, core.MountEntry{Path: "rec", Type: "rec"}); err != nil {
		t.Fatal(err)
	}
	if err := rc.c.WritePolicy(ctx, "rec", recPolicy); err != nil {
		t.Fatal(err)
	}
	res, err := rc.c.HandleRequest(ctx, rc.root, &logical.Request{Operation: logical.UpdateOperation, Path: "auth/token/create",
		Data: map[string]any{"policies": []any{"rec"}, "no_default_policy": true}})
	if err != nil || res.Issued == nil {
		t.Fatalf("creating a token: %v", err)
	}
	rc.user = res.Issued.ID
	return rc
}

var ops = []logical.Operation{logical.ReadOperation, logical.UpdateOperation, logical.ListOperation, logical.DeleteOperation, logical.CreateOperation, logical.PatchOperation}

// checkCanonical checks what CanonicalPath must guarantee for raw: on
// success, idempotent, no empty or dot segment, one trailing slash for a
// list and none otherwise, the same segments as raw but for the spelling
// of a folded name; on failure, ErrInvalidRequest.
func checkCanonical(t testing.TB, c *core.Core, raw string, op logical.Operation) (string, bool) {
	t.Helper()
	p, err := c.CanonicalPath(raw, op)
	if err != nil {
		if !errors.Is(err, core.ErrInvalidRequest) {
			t.Errorf("CanonicalPath(%q, %s): %v, want ErrInvalidRequest", raw, op, err)
		}
		return "", false
	}
	again, err := c.CanonicalPath(p, op)
	if err != nil || again != p {
		t.Errorf("CanonicalPath is not idempotent: %q → %q → %q, %v", raw, p, again, err)
	}
	trimmed := strings.TrimSuffix(p, "/")
	if op == logical.ListOperation {
		if !strings.HasSuffix(p, "/") || strings.HasSuffix(trimmed, "/") {
			t.Errorf("CanonicalPath(%q, list) = %q, want exactly one trailing slash", raw, p)
		}
	} else if strings.HasSuffix(p, "/") {
		t.Errorf("CanonicalPath(%q, %s) = %q, want no trailing slash", raw, op, p)
	}
	if strings.HasPrefix(p, "/") {
		t.Errorf("CanonicalPath(%q, %s) = %q has a leading slash", raw, op, p)
	}
	got := strings.Split(trimmed, "/")
	for _, seg := range got {
		if seg == "" || seg == "." || seg == ".." {
			t.Errorf("CanonicalPath(%q, %s) = %q has an empty or dot segment", raw, op, p)
		}
	}
	in := strings.Split(strings.Trim(raw, "/"), "/")
	// The older sys spellings become their current ones: a segment more
	// for sys/policy/ (sys/policies/acl/), sys/renew and sys/revoke.
	if len(in) >= 2 && in[0] == "sys" {
		switch in[1] {
		case "policy":
			if len(in) > 2 {
				in = append([]string{"sys", "policies", "acl"}, in[2:]...)
			}
		case "renew", "revoke":
			in = append([]string{"sys", "leases", in[1]}, in[2:]...)
		}
	}
	if len(in) != len(got) {
		t.Errorf("CanonicalPath(%q, %s) = %q: %d segments became %d; only the spelling of names may change", raw, op, p, len(in), len(got))
		return p, true
	}
	for i := range in {
		if in[i] != got[i] && strings.ToLower(strings.TrimSpace(in[i])) != got[i] {
			t.Errorf("CanonicalPath(%q, %s) = %q: segment %q became %q", raw, op, p, in[i], got[i])
		}
	}
	return p, true
}

// spell returns a random spelling of name: case changes and, with
// spaces, surrounding spaces.
func spell(r *rand.Rand, name string, spaces bool) string {
	var b strings.Builder
	if spaces && r.IntN(3) == 0 {
		b.WriteString(strings.Repeat(" ", 1+r.IntN(2)))
	}
	for _, ch := range name {
		if r.IntN(2) == 0 {
			b.WriteString(strings.ToUpper(string(ch)))
		} else {
			b.WriteRune(ch)
		}
	}
	if spaces && r.IntN(3) == 0 {
		b.WriteString(strings.Repeat(" ", 1+r.IntN(2)))
	}
	return b.String()
}

// randomPath builds mount/items/<spelling of name>[/sub] with random
// leading and trailing slashes.
func randomPath(r *rand.Rand, mount, name string, spaces bool) string {
	p := strings.Repeat("/", r.IntN(3)) + mount + "/items/" + spell(r, name, spaces)
	if r.IntN(2) == 0 {
		p += "/" + spell(r, "sub", false)
	}
	return p + strings.Repeat("/", r.IntN(3))
}

// TestCanonicalPathProperties: for random spellings of engine and sys
// paths, CanonicalPath keeps its promises, and refuses empty and dot
// segments.
func TestCanonicalPathProperties(t *testing.T) {
	rc := newRecCore(t, false)
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		op := ops[r.IntN(len(ops))]
		checkCanonical(t, rc.c, randomPath(r, "rec", "secret", true), op)
		if op == logical.ListOperation {
			continue // see TestCanonicalPolicyNameOfAList
		}
		sys := strings.Repeat("/", r.IntN(2)) + "sys/policies/acl/" + spell(r, "polmgr", true) + strings.Repeat("/", r.IntN(2))
		if p, ok := checkCanonical(t, rc.c, sys, op); ok && p != "sys/policies/acl/polmgr" {
			t.Errorf("CanonicalPath(%q) = %q, want sys/policies/acl/polmgr", sys, p)
		}
		// The older spelling is judged as the current one: one ACL path
		// for one policy.
		legacy := "sys/policy/" + spell(r, "polmgr", true)
		if p, err := rc.c.CanonicalPath(legacy, op); err != nil || p != "sys/policies/acl/polmgr" {
			t.Errorf("CanonicalPath(%q) = %q, %v; want sys/policies/acl/polmgr", legacy, p, err)
		}
	}
	for _, bad := range []string{"", "/", "//", "rec//items", "rec/./items", "rec/../sys/seal", "sys/policies/acl/..", "./sys/seal", "rec/items/.", "sys//seal"} {
		for _, op := range ops {
			if p, err := rc.c.CanonicalPath(bad, op); !errors.Is(err, core.ErrInvalidRequest) {
				t.Errorf("CanonicalPath(%q, %s) = %q, %v; want ErrInvalidRequest", bad, op, p, err)
			}
		}
	}
}

// TestCanonicalPolicyNameOfAList: a policy name is folded without its
// surrounding spaces whatever the operation; a list keeps its one
// trailing slash after the folded name.
func TestCanonicalPolicyNameOfAList(t *testing.T) {
	rc := newRecCore(t, false)
	for _, raw := range []string{"sys/policies/acl/PolMgr ", "sys/policies/acl/ polmgr /", "sys/policy/polmgr  "} {
		checkCanonical(t, rc.c, raw, logical.ListOperation)
	}
}

// TestCanonicalPathOfAMountRoot: a request for a mount's own path (no
// trailing slash) keeps its path; the engine's fold applies to what
// follows the mount only.
// A request for the mount root must reach the handler as "" under the
// ACL path "rec", not be judged as another path.
func TestCanonicalPathOfAMountRoot(t *testing.T) {
	rc := newRecCore(t, true)
	for _, op := range ops {
		checkCanonical(t, rc.c, "rec", op)
	}
	rc.audit()
	if _, err := rc.c.HandleRequest(context.Background(), rc.root, &logical.Request{Operation: logical.ReadOperation, Path: "rec"}); err != nil {
		t.Fatal(err)
	}
	seen, lines := rc.eng.take(), rc.audit()
	if len(seen) != 1 || len(lines) != 2 || lines[0] != "request rec" || seen[0] != "" {
		t.Errorf("read rec: the handler saw %q, the audit log (the ACL's path) %q; want \"\" and request rec", seen, lines)
	}
}

// TestNoSpellingOfADeniedNameReachesTheHandler sends random spellings of
// a denied name to the test engine: every one is refused and the
// handler sees none; for an allowed name, the handler sees exactly the
// path the audit log says the ACL judged.
func TestNoSpellingOfADeniedNameReachesTheHandler(t *testing.T) {
	ctx := context.Background()
	rc := newRecCore(t, true)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 300 {
		op := ops[r.IntN(len(ops))]
		raw := randomPath(r, "rec", "secret", true)
		rc.audit()
		_, err := rc.c.HandleRequest(ctx, rc.user, &logical.Request{Operation: op, Path: raw, Data: map[string]any{}})
		if seen := rc.eng.take(); len(seen) > 0 {
			t.Fatalf("%s %q reached the handler as %q", op, raw, seen)
		}
		lines := rc.audit()
		switch {
		case errors.Is(err, core.ErrInvalidRequest):
			// An empty segment (leading "//"): refused before any check.
			if len(lines) != 0 {
				t.Errorf("%s %q: refused as invalid, yet audited %q", op, raw, lines)
			}
		case errors.Is(err, core.ErrPermissionDenied):
			if len(lines) != 1 || !strings.HasSuffix(lines[0], " error") {
				t.Errorf("%s %q: audit lines %q, want one refused request", op, raw, lines)
			}
		default:
			t.Errorf("%s %q: %v, want permission denied", op, raw, err)
		}

		// An allowed name: the handler acts on the audited path.
		raw = randomPath(r, "rec", fmt.Sprintf("other%d", i%7), true)
		rc.audit()
		_, err = rc.c.HandleRequest(ctx, rc.user, &logical.Request{Operation: op, Path: raw, Data: map[string]any{}})
		seen := rc.eng.take()
		lines = rc.audit()
		if errors.Is(err, core.ErrInvalidRequest) && strings.HasPrefix(raw, "//") {
			continue
		}
		if err != nil {
			t.Errorf("%s %q: %v", op, raw, err)
			continue
		}
		if len(seen) != 1 || len(lines) != 2 {
			t.Errorf("%s %q: handler saw %q, audit %q; want one call and a request and a response entry", op, raw, seen, lines)
			continue
		}
		if want := "request rec/" + seen[0]; lines[0] != want {
			t.Errorf("%s %q: the ACL judged %q, the handler acted on %q", op, raw, lines[0], seen[0])
		}
	}
}

// FuzzCanonicalPath: for any path and operation, CanonicalPath keeps its
// promises; the raw request and its canonical spelling get the same
// decision; a request under the denied name never reaches the handler,
// and one that does reaches it with the canonical path.
func FuzzCanonicalPath(f *testing.F) {
	for _, seed := range []string{
		"rec/items/secret", "rec/items/SECRET", "/rec/items/ Secret /", "rec/items/secret/sub//", "rec/items/sEcReT/x/y",
		"rec/items/other", "rec/items", "rec/items/", "//rec//items", "rec/./items", "rec/../sys",
		"sys/policies/acl/PolMgr", "sys/policies/acl/ polmgr", "sys/policy/POLMGR/", "sys/policies/acl",
		"auth/token/tidy/", "sys/mounts/secret/tune/", "", "/", ".", "..", "a/b/c", "rec/items/\u212Aey",
	} {
		for i := range ops {
			f.Add(seed, uint8(i))
		}
	}
	rc := newRecCore(f, false)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw string, opIndex uint8) {
		op := ops[int(opIndex)%len(ops)]
		p, ok := checkCanonical(t, rc.c, raw, op)
		if !ok {
			return
		}
		_, err := rc.c.HandleRequest(ctx, rc.user, &logical.Request{Operation: op, Path: raw, Data: map[string]any{}})
		seen := rc.eng.take()
		// The decision on the raw request is the decision on its
		// canonical spelling, and both reach the handler alike.
		_, cerr := rc.c.HandleRequest(ctx, rc.user, &logical.Request{Operation: op, Path: p, Data: map[string]any{}})
		if cseen := rc.eng.take(); errors.Is(err, core.ErrPermissionDenied) != errors.Is(cerr, core.ErrPermissionDenied) || strings.Join(seen, ",") != strings.Join(cseen, ",") {
			t.Errorf("%s %q: %v, handler saw %q; its canonical %q: %v, handler saw %q", op, raw, err, seen, p, cerr, cseen)
		}
		if len(seen) == 0 {
			return
		}
		if err != nil {
			t.Errorf("%s %q: handler called but %v", op, raw, err)
		}
		if len(seen) != 1 || "rec/"+seen[0] != p {
			t.Errorf("%s %q: canonical %q, the handler saw %q", op, raw, p, seen)
		}
		if strings.HasPrefix(p, "rec/items/secret/") || strings.TrimSuffix(p, "/") == "rec/items/secret" {
			t.Errorf("%s %q: the denied name reached the handler as %q", op, raw, seen)
		}
	})
}

// TestHandlerGetsTheWholeRelativePath: a path under the mount whose
// first segment begins with the mount's name reaches the handler whole.
func TestHandlerGetsTheWholeRelativePath(t *testing.T) {
	rc := newRecCore(t, true)
	for _, rel := range []string{"rec", "recitems/x", "rec/items/x"} {
		rc.audit()
		if _, err := rc.c.HandleRequest(context.Background(), rc.root, &logical.Request{Operation: logical.ReadOperation, Path: "rec/" + rel}); err != nil {
			t.Fatal(err)
		}
		seen, lines := rc.eng.take(), rc.audit()
		if len(seen) != 1 || seen[0] != rel || len(lines) == 0 || lines[0] != "request rec/"+rel {
			t.Errorf("read rec/%s: the handler saw %q, the audit log %q; want %q", rel, seen, lines, rel)
		}
	}
}

// TestFoldedNamesMakeNoEmptyOrDotSegments: folding a policy name drops
// its surrounding spaces after the segments were checked; what is left
// must still be a valid path ("sys/policies/acl/ /x" is not
// "sys/policies/acl//x", nor "sys/policies/acl/ .." ".."), or refused.
func TestFoldedNamesMakeNoEmptyOrDotSegments(t *testing.T) {
	c := core.New(core.Config{})
	for _, raw := range []string{"sys/policies/acl/ /x", "sys/policies/acl/ ..", "sys/policies/acl/ .", "sys/policy/.. ", "sys/policy/ /polmgr"} {
		checkCanonical(t, c, raw, logical.UpdateOperation)
	}
}
