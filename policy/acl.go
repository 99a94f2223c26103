package policy

import (
	"slices"
	"strings"
	"time"
)

// ACL is the compiled union of a token's policies. It is immutable and
// safe for concurrent use; core compiles it once per set of policies.
//
// Lookup cost depends on the request path's length, not on the number of
// rules: exact patterns sit in a map; patterns ending in "*" and patterns
// with "+" segments hang off a byte trie at their literal prefix, which a
// lookup walks once along the path.
type ACL struct {
	root  bool
	exact map[string]*rule
	trie  *node
}

// rule is the merged form of every policy's rule for one pattern.
type rule struct {
	pattern   string
	caps      Capability
	required  []string
	allowed   map[string][]string
	denied    map[string][]string
	minWrap   time.Duration
	maxWrap   time.Duration
	hasPlus   bool
	isPrefix  bool
	firstWild int
	plusCount int
}

type node struct {
	children map[byte]*node
	prefix   *rule   // the rule for pattern = path-so-far + "*"
	plus     []*rule // rules with "+" whose literal prefix ends here
}

// RootACL allows everything (the root policy).
func RootACL() *ACL { return &ACL{root: true} }

// NewACL compiles policies into an ACL. Rules for the same pattern in
// several policies merge: their capabilities add up, and a deny wins.
func NewACL(policies ...*Policy) *ACL {
	merged := map[string]*rule{}
	for _, p := range policies {
		if p == nil {
			continue
		}
		for i := range p.Rules {
			mergeRule(merged, &p.Rules[i])
		}
	}
	a := &ACL{exact: map[string]*rule{}, trie: &node{}}
	for _, r := range merged {
		switch {
		case r.hasPlus:
			n := a.insert(r.pattern[:strings.IndexByte(r.pattern, '+')])
			n.plus = append(n.plus, r)
		case r.isPrefix:
			a.insert(strings.TrimSuffix(r.pattern, "*")).prefix = r
		default:
			a.exact[r.pattern] = r
		}
	}
	return a
}

func mergeRule(merged map[string]*rule, pr *Rule) {
	r, ok := merged[pr.Pattern]
	if !ok {
		first := strings.IndexAny(pr.Pattern, "+*")
		if first < 0 {
			first = len(pr.Pattern)
		}
		r = &rule{
			pattern:   pr.Pattern,
			hasPlus:   strings.Contains(pr.Pattern, "+"),
			isPrefix:  strings.HasSuffix(pr.Pattern, "*"),
			firstWild: first,
			plusCount: strings.Count(pr.Pattern, "+"),
		}
		merged[pr.Pattern] = r
	}
	r.caps |= pr.Caps
	if r.caps&Deny != 0 {
		r.caps = Deny
	}
	r.required = append(r.required, pr.RequiredParameters...)
	// The strictest wrapping bounds of the merged rules hold.
	r.minWrap = max(r.minWrap, pr.MinWrappingTTL)
	if pr.MaxWrappingTTL > 0 && (r.maxWrap == 0 || pr.MaxWrappingTTL < r.maxWrap) {
		r.maxWrap = pr.MaxWrappingTTL
	}
	r.allowed = mergeParams(r.allowed, pr.AllowedParameters)
	r.denied = mergeParams(r.denied, pr.DeniedParameters)
}

func mergeParams(dst, src map[string][]string) map[string][]string {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = map[string][]string{}
	}
	for k, v := range src {
		// An empty list means "any value"; it absorbs specific values.
		if cur, ok := dst[k]; ok && (len(cur) == 0 || len(v) == 0) {
			dst[k] = []string{}
			continue
		}
		dst[k] = append(dst[k], v...)
	}
	return dst
}

func (a *ACL) insert(literal string) *node {
	n := a.trie
	for i := 0; i < len(literal); i++ {
		if n.children == nil {
			n.children = map[byte]*node{}
		}
		c, ok := n.children[literal[i]]
		if !ok {
			c = &node{}
			n.children[literal[i]] = c
		}
		n = c
	}
	return n
}

// match returns the most specific rule for path, or nil.
func (a *ACL) match(path string) *rule {
	best := a.exact[path]
	if best != nil {
		return best
	}
	n := a.trie
	for i := 0; ; i++ {
		if n.prefix != nil && (best == nil || moreSpecific(n.prefix, best)) {
			best = n.prefix
		}
		for _, r := range n.plus {
			if globMatch(r.pattern[i:], path[i:]) && (best == nil || moreSpecific(r, best)) {
				best = r
			}
		}
		if i == len(path) {
			return best
		}
		next, ok := n.children[path[i]]
		if !ok {
			return best
		}
		n = next
	}
}

// moreSpecific orders rules as Vault does: a later first wildcard wins,
// then no trailing "*" beats one, then fewer "+" segments, then a longer
// pattern, then the lexicographically larger one.
func moreSpecific(a, b *rule) bool {
	if a.firstWild != b.firstWild {
		return a.firstWild > b.firstWild
	}
	if a.isPrefix != b.isPrefix {
		return !a.isPrefix
	}
	if a.plusCount != b.plusCount {
		return a.plusCount < b.plusCount
	}
	if len(a.pattern) != len(b.pattern) {
		return len(a.pattern) > len(b.pattern)
	}
	return a.pattern > b.pattern
}

// globMatch matches a pattern with "+" segments and an optional trailing
// "*" against a path.
func globMatch(pattern, path string) bool {
	for {
		switch {
		case pattern == "":
			return path == ""
		case pattern == "*":
			return true
		case pattern[0] == '+':
			seg := path
			if i := strings.IndexByte(path, '/'); i >= 0 {
				seg = path[:i]
			}
			if seg == "" {
				return false
			}
			pattern, path = pattern[1:], path[len(seg):]
		case path == "" || pattern[0] != path[0]:
			return false
		default:
			pattern, path = pattern[1:], path[1:]
		}
	}
}

// Decision is the answer to one request.
type Decision struct {
	Allowed bool
	// Sudo: the matched rule grants sudo (needed on root-protected paths).
	Sudo bool
	// Reason says why a request was refused, for the error message.
	Reason string
	// MinWrappingTTL and MaxWrappingTTL bound the response-wrapping TTL
	// the request must ask for (zero: no bound).
	MinWrappingTTL, MaxWrappingTTL time.Duration
}

// Check decides whether op ("read", "create", ...) on path with the
// request parameters is allowed. It is a pure function of its inputs.
func (a *ACL) Check(path, op string, params map[string]any) Decision {
	if a.root {
		return Decision{Allowed: true, Sudo: true}
	}
	need, err := ForOperation(op)
	if err != nil {
		return Decision{Reason: err.Error()}
	}
	r := a.matchFor(path, op)
	if r == nil || r.caps&Deny != 0 || r.caps&need == 0 {
		return Decision{Reason: "permission denied"}
	}
	if need&(Create|Update|Patch) != 0 {
		if reason := r.checkParams(params); reason != "" {
			return Decision{Reason: reason}
		}
	}
	return Decision{Allowed: true, Sudo: r.caps&Sudo != 0, MinWrappingTTL: r.minWrap, MaxWrappingTTL: r.maxWrap}
}

// WrapTTLAllowed reports whether a request wrapped with ttl (zero: not
// wrapped) satisfies the decision's wrapping bounds.
func (d Decision) WrapTTLAllowed(ttl time.Duration) bool {
	if d.MinWrappingTTL > 0 && ttl < d.MinWrappingTTL {
		return false
	}
	return d.MaxWrappingTTL == 0 || ttl <= d.MaxWrappingTTL
}

// Capabilities returns what the ACL grants on path (["root"] for root,
// ["deny"] when nothing).
func (a *ACL) Capabilities(path string) []string {
	if a.root {
		return []string{"root"}
	}
	r := a.match(path)
	if r == nil {
		return []string{"deny"}
	}
	return r.caps.Names()
}

func (r *rule) checkParams(params map[string]any) string {
	for _, k := range r.required {
		if _, ok := params[k]; !ok {
			return "permission denied: missing required parameter " + k
		}
	}
	for k, v := range params {
		if vals, ok := r.denied[k]; ok && (len(vals) == 0 || valueIn(v, vals)) {
			return "permission denied: parameter " + k + " is denied"
		}
		if vals, ok := r.denied["*"]; ok && (len(vals) == 0 || valueIn(v, vals)) {
			return "permission denied: parameter " + k + " is denied"
		}
		if len(r.allowed) == 0 {
			continue
		}
		vals, ok := r.allowed[k]
		if !ok {
			vals, ok = r.allowed["*"]
		}
		if !ok || (len(vals) > 0 && !valueIn(v, vals)) {
			return "permission denied: parameter " + k + " is not allowed"
		}
	}
	return ""
}

// valueIn reports whether v (a string, or a list of strings) matches one
// of vals; a value may start or end with "*" as a glob.
func valueIn(v any, vals []string) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if !valueIn(e, vals) {
				return false
			}
		}
		return len(x) > 0
	case string:
		return slices.ContainsFunc(vals, func(p string) bool { return globValue(p, x) })
	default:
		s, ok := stringOf(x)
		return ok && slices.ContainsFunc(vals, func(p string) bool { return globValue(p, s) })
	}
}

func stringOf(v any) (string, bool) {
	if s, ok := v.(interface{ String() string }); ok {
		return s.String(), true
	}
	return "", false
}

func globValue(pattern, v string) bool {
	switch {
	case pattern == "*":
		return true
	case strings.HasPrefix(pattern, "*") && strings.HasSuffix(pattern, "*") && len(pattern) > 1:
		return strings.Contains(v, pattern[1:len(pattern)-1])
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(v, pattern[1:])
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(v, pattern[:len(pattern)-1])
	}
	return pattern == v
}
