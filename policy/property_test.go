package policy

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The properties below tie Check to the request pipeline's promise (issue
// 12): the decision on a request equals the decision on its canonical
// form, and no spelling the pipeline canonicalises (slashes in the path;
// lists given as comma strings, spaced or in another case in the
// parameters) is granted more than the canonical request. The canonical
// decisions themselves are checked against refACL, a naive model written
// from the rules (regular expressions, a linear scan), not from the
// compiled trie.

var (
	genSegs   = []string{"a", "b", "tok", "Tok"}
	genNames  = []string{"admin", "dev", "ci", "dev-x", "default"}
	genValues = []string{"admin", "dev", "ci", "dev-*", "*min", "*"}
	genKeys   = []string{"policies", "ttl", "*"}
	genCaps   = []string{"create", "read", "update", "patch", "delete", "list", "sudo"}
	genOps    = []string{"create", "read", "update", "patch", "delete", "list"}
)

// genPolicy writes a random policy: patterns of literal and "+" segments,
// exact (sometimes written with a trailing "/") or ending in "*",
// capabilities including sudo and deny, and parameter constraints.
func genPolicy(r *rand.Rand) string {
	var sb strings.Builder
	for range 1 + r.IntN(6) {
		var segs []string
		for range 1 + r.IntN(3) {
			if r.IntN(4) == 0 {
				segs = append(segs, "+")
			} else {
				segs = append(segs, genSegs[r.IntN(len(genSegs))])
			}
		}
		pat := strings.Join(segs, "/")
		switch r.IntN(5) {
		case 0:
			pat += "*"
		case 1:
			pat += "/*"
		case 2:
			if !strings.HasSuffix(pat, "+") {
				pat += "/"
			}
		}
		var caps []string
		if r.IntN(6) == 0 {
			caps = []string{`"deny"`}
		} else {
			for _, c := range genCaps {
				if r.IntN(2) == 0 {
					caps = append(caps, fmt.Sprintf("%q", c))
				}
			}
		}
		fmt.Fprintf(&sb, "path %q {\n  capabilities = [%s]\n", pat, strings.Join(caps, ", "))
		if r.IntN(5) == 0 {
			sb.WriteString("  required_parameters = [\"policies\"]\n")
		}
		for _, kind := range []string{"allowed_parameters", "denied_parameters"} {
			if r.IntN(3) != 0 {
				continue
			}
			fmt.Fprintf(&sb, "  %s = {\n", kind)
			for _, k := range genKeys {
				if r.IntN(2) == 0 {
					continue
				}
				var vals []string
				for range r.IntN(3) {
					vals = append(vals, fmt.Sprintf("%q", genValues[r.IntN(len(genValues))]))
				}
				fmt.Fprintf(&sb, "    %q = [%s]\n", k, strings.Join(vals, ", "))
			}
			sb.WriteString("  }\n")
		}
		sb.WriteString("}\n")
	}
	return sb.String()
}

func genPath(r *rand.Rand) string {
	segs := make([]string, 1+r.IntN(4))
	for i := range segs {
		segs[i] = append(genSegs, "c")[r.IntN(len(genSegs)+1)]
	}
	return strings.Join(segs, "/")
}

// genNameList is a canonical list parameter: trimmed lower-case names.
func genNameList(r *rand.Rand) []string {
	out := []string{}
	for range r.IntN(4) {
		out = append(out, genNames[r.IntN(len(genNames))])
	}
	return out
}

// --- the reference model ---

type refRule struct {
	pattern         string
	re              *regexp.Regexp
	caps            Capability
	required        []string
	allowed, denied map[string][]string
	firstWild       int
	plusCount       int
	prefix          bool
}

type refACL []*refRule

func newRefACL(ps ...*Policy) refACL {
	byPattern := map[string]*refRule{}
	var out refACL
	for _, p := range ps {
		for _, pr := range p.Rules {
			pat := pr.Pattern
			if !strings.ContainsAny(pat, "+*") {
				pat = strings.Trim(pat, "/")
			}
			rr := byPattern[pat]
			if rr == nil {
				expr := regexp.QuoteMeta(strings.TrimSuffix(pat, "*"))
				expr = strings.ReplaceAll(expr, `\+`, `[^/]+`)
				if strings.HasSuffix(pat, "*") {
					expr += ".*"
				}
				first := strings.IndexAny(pat, "+*")
				if first < 0 {
					first = len(pat)
				}
				rr = &refRule{pattern: pat, re: regexp.MustCompile("^" + expr + "$"), firstWild: first,
					plusCount: strings.Count(pat, "+"), prefix: strings.HasSuffix(pat, "*")}
				byPattern[pat] = rr
				out = append(out, rr)
			}
			rr.caps |= pr.Caps
			rr.required = append(rr.required, pr.RequiredParameters...)
			rr.allowed = refMerge(rr.allowed, pr.AllowedParameters, false)
			rr.denied = refMerge(rr.denied, pr.DeniedParameters, true)
		}
	}
	return out
}

// refMerge: an empty list (any value) absorbs values; denied names fold.
func refMerge(dst, src map[string][]string, fold bool) map[string][]string {
	for k, v := range src {
		if fold {
			k = strings.ToLower(k)
		}
		if dst == nil {
			dst = map[string][]string{}
		}
		cur, ok := dst[k]
		switch {
		case !ok:
			dst[k] = slices.Clone(v)
		case len(cur) == 0 || len(v) == 0:
			dst[k] = []string{}
		default:
			dst[k] = append(cur, v...)
		}
	}
	return dst
}

// better orders rules as Vault's documentation describes priority.
func (x *refRule) better(y *refRule) bool {
	switch {
	case x.firstWild != y.firstWild:
		return x.firstWild > y.firstWild
	case x.prefix != y.prefix:
		return !x.prefix
	case x.plusCount != y.plusCount:
		return x.plusCount < y.plusCount
	case len(x.pattern) != len(y.pattern):
		return len(x.pattern) > len(y.pattern)
	}
	return x.pattern > y.pattern
}

func (a refACL) match(path string) *refRule {
	var best *refRule
	for _, r := range a {
		if r.re.MatchString(path) && (best == nil || r.better(best)) {
			best = r
		}
	}
	return best
}

func denies(r *refRule) bool { return r.caps&Deny != 0 }

// check decides a canonical request: path canonical, every parameter a
// list of trimmed lower-case names.
func (a refACL) check(path, op string, params map[string][]string) (allowed, sudo bool) {
	need, _ := ForOperation(op)
	var r *refRule
	if op == "list" {
		dir := path + "/"
		if path == "" {
			dir = ""
		}
		r = a.match(dir)
		if r == nil || !denies(r) {
			for _, x := range a {
				if x.pattern == path && !x.prefix && x.plusCount == 0 {
					r = x
				}
			}
		}
	} else {
		r = a.match(path)
	}
	if r == nil || denies(r) || r.caps&need == 0 {
		return false, false
	}
	if need&(Create|Update|Patch) != 0 && !r.paramsOK(params) {
		return false, false
	}
	return true, r.caps&Sudo != 0
}

var refGlobs = map[string]*regexp.Regexp{}

func refGlob(pattern, v string) bool {
	if re, ok := refGlobs[pattern]; ok {
		return re.MatchString(v)
	}
	expr := regexp.QuoteMeta(strings.TrimSuffix(strings.TrimPrefix(pattern, "*"), "*"))
	if strings.HasPrefix(pattern, "*") {
		expr = ".*" + expr
	}
	if strings.HasSuffix(pattern, "*") && pattern != "*" {
		expr += ".*"
	}
	re := regexp.MustCompile("^" + expr + "$")
	refGlobs[pattern] = re
	return re.MatchString(v)
}

func (r *refRule) paramsOK(params map[string][]string) bool {
	for _, k := range r.required {
		if len(params[k]) == 0 {
			return false
		}
	}
	for k, elems := range params {
		if len(elems) == 0 {
			elems = []string{""}
		}
		for _, dk := range []string{strings.ToLower(k), "*"} {
			vals, ok := r.denied[dk]
			if !ok {
				continue
			}
			if len(vals) == 0 {
				return false
			}
			for _, e := range elems {
				for _, v := range vals {
					if refGlob(strings.ToLower(v), e) {
						return false
					}
				}
			}
		}
		if len(r.allowed) == 0 {
			continue
		}
		vals, ok := r.allowed[k]
		if !ok {
			vals, ok = r.allowed["*"]
		}
		if !ok {
			return false
		}
		if len(vals) == 0 {
			continue
		}
		for _, e := range elems {
			if !slices.ContainsFunc(vals, func(v string) bool { return refGlob(v, e) }) {
				return false
			}
		}
	}
	return true
}

// --- the properties ---

// spellings returns ways of writing path that the pipeline canonicalises
// to CanonicalPath(path).
func spellings(r *rand.Rand, path string) []string {
	out := []string{path + "/", "/" + path, "//" + path + "//", strings.ReplaceAll(path, "/", "//")}
	if i := strings.IndexByte(path, '/'); i >= 0 && r != nil {
		j := r.IntN(len(path))
		if path[j] == '/' {
			out = append(out, path[:j]+"///"+path[j+1:]+"/")
		}
	}
	return out
}

// listSpellings returns ways of writing a canonical list parameter that
// handlers read as that list.
func listSpellings(names []string) []any {
	upper := make([]any, len(names))
	spaced := make([]any, len(names))
	for i, n := range names {
		upper[i] = strings.ToUpper(n)
		spaced[i] = " " + n + " "
	}
	return []any{
		strings.Join(names, ","),
		strings.Join(names, " , "),
		strings.ToUpper(strings.Join(names, ",")),
		upper,
		spaced,
		[]any{strings.Join(names, ",")},
		[]string(names),
	}
}

func asParams(m map[string][]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		l := make([]any, len(v))
		for i, s := range v {
			l[i] = s
		}
		out[k] = l
	}
	return out
}

// notWider fails when spelled was granted something canonical was not.
func notWider(t testing.TB, what string, spelled, canonical Decision) {
	t.Helper()
	if spelled.Allowed && !canonical.Allowed {
		t.Fatalf("%s: allowed, but the canonical request is refused (%s)", what, canonical.Reason)
	}
	if spelled.Sudo && !canonical.Sudo {
		t.Fatalf("%s: grants sudo, the canonical request does not", what)
	}
}

// checkRequest asserts every property for one request on acl and ref.
func checkRequest(t testing.TB, r *rand.Rand, acl *ACL, ref refACL, raw, op string, names []string) {
	t.Helper()
	c := CanonicalPath(raw)
	if cc := CanonicalPath(c); cc != c {
		t.Fatalf("CanonicalPath not idempotent: %q -> %q -> %q", raw, c, cc)
	}
	var params map[string][]string
	if names != nil {
		params = map[string][]string{"policies": names}
	}
	dc := acl.Check(c, op, asParams(params))
	if again := acl.Check(CanonicalPath(c), op, asParams(params)); again != dc {
		t.Fatalf("Check(CanonicalPath(CanonicalPath(%q))) = %+v, Check(CanonicalPath) = %+v", raw, again, dc)
	}
	// The canonical decision is the reference model's.
	if allowed, sudo := ref.check(c, op, params); dc.Allowed != allowed || dc.Sudo != sudo {
		t.Fatalf("%s %q %v: Check = allowed %v sudo %v (%s), reference = allowed %v sudo %v",
			op, c, names, dc.Allowed, dc.Sudo, dc.Reason, allowed, sudo)
	}
	// No spelling of the path is granted more than the canonical path;
	// the raw spelling neither.
	for _, s := range append(spellings(r, c), raw) {
		notWider(t, fmt.Sprintf("%s %q (canonical %q)", op, s, c), acl.Check(s, op, asParams(params)), dc)
	}
	// A trailing slash is the same path when no rule is written for the
	// slashed spelling alone (every rule matching "c/" matches c).
	if op != "list" && c != "" && !slices.ContainsFunc(ref, func(x *refRule) bool {
		return x.re.MatchString(c+"/") && !x.re.MatchString(c)
	}) {
		if d := acl.Check(c+"/", op, asParams(params)); d != dc {
			t.Fatalf("%s %q/: %+v, canonical: %+v", op, c, d, dc)
		}
	}
	// Listing a directory is the same with or without its slash.
	if op == "list" {
		if d := acl.Check(c+"/", op, nil); d != acl.Check(c, op, nil) {
			t.Fatalf("list %q/ and list %q differ", c, c)
		}
	}
	// No spelling of a list parameter is granted more than the list.
	if names != nil {
		for _, v := range listSpellings(names) {
			notWider(t, fmt.Sprintf("%s %q policies=%#v (canonical %v)", op, c, v, names),
				acl.Check(c, op, map[string]any{"policies": v}), dc)
		}
	}
}

// TestCheckProperties runs the properties on random policies and requests.
func TestCheckProperties(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	for seed := range uint64(n) {
		r := rand.New(rand.NewPCG(seed, 12))
		src := genPolicy(r)
		p, err := Parse("gen", src)
		if err != nil {
			t.Fatalf("seed %d: generated policy does not parse: %v\n%s", seed, err, src)
		}
		acl, ref := NewACL(p), newRefACL(p)
		for range 20 {
			op := genOps[r.IntN(len(genOps))]
			var names []string
			if r.IntN(3) != 0 {
				names = genNameList(r)
			}
			raw := genPath(r)
			if r.IntN(2) == 0 {
				raw = spellings(r, raw)[r.IntN(4)]
			}
			checkRequest(withContext{t, fmt.Sprintf("seed %d, policy:\n%s", seed, src)}, r, acl, ref, raw, op, names)
		}
	}
}

// withContext adds the generated policy to a failure's message.
type withContext struct {
	testing.TB
	ctx string
}

func (w withContext) Fatalf(format string, args ...any) {
	w.TB.Helper()
	w.TB.Fatalf("%s\n"+format, append([]any{w.ctx}, args...)...)
}

// FuzzCheck: a policy from a seed, a raw path and a comma-separated list
// parameter from the fuzzer. Its seed corpus runs with the ordinary tests.
func FuzzCheck(f *testing.F) {
	f.Add(uint64(1), "a/b/", "admin", uint8(2))
	f.Add(uint64(7), "/tok//a", "dev, Admin", uint8(0))
	f.Add(uint64(42), "a/+/b*", "DEV-X,ci", uint8(5))
	f.Add(uint64(99), "Tok/b/c/", "", uint8(3))
	f.Add(uint64(1234), "//", ",,", uint8(1))
	f.Add(uint64(5), "auth/token/revoke-orphan/", "default,admin", uint8(2))
	f.Fuzz(func(t *testing.T, seed uint64, raw, list string, opIdx uint8) {
		r := rand.New(rand.NewPCG(seed, 12))
		p, err := Parse("gen", genPolicy(r))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range pieces(list) {
			names = append(names, strings.ToLower(s))
		}
		if names == nil && list != "" {
			names = []string{}
		}
		op := genOps[int(opIdx)%len(genOps)]
		acl := NewACL(p)
		checkRequest(t, r, acl, newRefACL(p), raw, op, names)
		// The fuzzer's own spelling of the list is never granted more
		// than the list it canonicalises to.
		if names != nil {
			c := CanonicalPath(raw)
			notWider(t, fmt.Sprintf("%s %q policies=%q", op, c, list),
				acl.Check(c, op, map[string]any{"policies": list}),
				acl.Check(c, op, asParams(map[string][]string{"policies": names})))
		}
	})
}
