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
