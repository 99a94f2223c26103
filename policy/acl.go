package policy

import (
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
	denied    map[string][]string // keyed by lower-cased name
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
//
// A pattern without wildcards is a request path and is compiled in its
// canonical form (CanonicalPath): "auth/token/tidy/" and
// "auth/token/tidy" are one rule, which governs every spelling of that
// path.
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
	pattern := pr.Pattern
	if !strings.ContainsAny(pattern, "+*") {
		pattern = CanonicalPath(pattern)
	}
	r, ok := merged[pattern]
	if !ok {
		first := strings.IndexAny(pattern, "+*")
		if first < 0 {
			first = len(pattern)
		}
		r = &rule{
			pattern:   pattern,
			hasPlus:   strings.Contains(pattern, "+"),
			isPrefix:  strings.HasSuffix(pattern, "*"),
			firstWild: first,
			plusCount: strings.Count(pattern, "+"),
		}
		merged[pattern] = r
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
	// Denied names compare without regard to case (see params.go).
	for k, v := range pr.DeniedParameters {
		r.denied = mergeParams(r.denied, map[string][]string{strings.ToLower(k): v})
	}
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

// match returns the most specific rule for path, or nil. It is the hot
// path of every request; each is its general, slower form.
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

// each calls f with every rule that matches path, in no order.
func (a *ACL) each(path string, f func(*rule)) {
	if r := a.exact[path]; r != nil {
		f(r)
	}
	n := a.trie
	for i := 0; ; i++ {
		if n.prefix != nil {
			f(n.prefix)
		}
		for _, r := range n.plus {
			if globMatch(r.pattern[i:], path[i:]) {
				f(r)
			}
		}
		if i == len(path) {
			return
		}
		next, ok := n.children[path[i]]
		if !ok {
			return
		}
		n = next
	}
}
