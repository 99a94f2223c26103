package policy

import "strings"

// CanonicalPath returns the one spelling of a request path that the ACL
// decides on: no leading or trailing "/", and no empty segments (runs of
// "/" become one). It is pure and idempotent:
// CanonicalPath(CanonicalPath(p)) == CanonicalPath(p).
//
// It does not resolve "." or ".." segments (the server refuses them) and
// does not fold case: which names fold is the request pipeline's
// knowledge, applied on top of this function.
func CanonicalPath(p string) string {
	if isCanonical(p) {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString(seg)
	}
	return b.String()
}

func isCanonical(p string) bool {
	return !strings.HasPrefix(p, "/") && !strings.HasSuffix(p, "/") && !strings.Contains(p, "//")
}

// dirForm is the path a list operation on canonical path c is decided on,
// as Vault does: the directory, with a trailing "/" ("" stays "").
func dirForm(c string) string {
	if c == "" {
		return ""
	}
	return c + "/"
}

// PathSet is a fixed set of path patterns, such as the paths that need
// sudo, matched on canonical paths, so that no spelling of a member (a
// trailing or doubled slash) falls outside the set. A pattern is a path,
// or a path ending in "*" (any suffix); patterns are canonicalised too,
// so "auth/token/accessors/" and "auth/token/accessors" are one member.
//
// "dir/*" holds the paths under dir, not dir itself: a request for
// "dir/" is a request for dir once canonical, so a directory whose own
// requests (a listing, an empty suffix such as revoke-prefix with no
// prefix) need the same must be a member itself.
type PathSet struct {
	exact    map[string]bool
	prefixes []string
}

// NewPathSet compiles patterns into a PathSet.
func NewPathSet(patterns ...string) *PathSet {
	s := &PathSet{exact: map[string]bool{}}
	for _, p := range patterns {
		lit, glob := strings.CutSuffix(p, "*")
		if !glob {
			s.exact[CanonicalPath(p)] = true
			continue
		}
		prefix := CanonicalPath(lit)
		if strings.HasSuffix(lit, "/") && prefix != "" {
			prefix += "/"
		}
		s.prefixes = append(s.prefixes, prefix)
	}
	return s
}

// Contains reports whether path, canonicalised, is in the set.
func (s *PathSet) Contains(path string) bool {
	c := CanonicalPath(path)
	if s.exact[c] {
		return true
	}
	for _, p := range s.prefixes {
		if strings.HasPrefix(c, p) {
			return true
		}
	}
	return false
}
