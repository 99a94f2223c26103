package userpass

import (
	"strings"

	"github.com/arca-secrets/arca/logical"
)

var _ logical.Canonicalizer = (*engine)(nil)

// CanonicalPath folds the username in users/:name... and login/:name to
// lower case, as the handlers do, so that core checks the policy on the
// path the handler serves.
func (e *engine) CanonicalPath(path string) string {
	return foldSecondSegment(path, "users", "login")
}

// foldSecondSegment lowercases the segment after any of the given first
// segments.
func foldSecondSegment(path string, firsts ...string) string {
	parts := strings.SplitN(path, "/", 3)
	if len(parts) < 2 {
		return path
	}
	for _, f := range firsts {
		if parts[0] == f {
			parts[1] = strings.ToLower(parts[1])
			return strings.Join(parts, "/")
		}
	}
	return path
}
