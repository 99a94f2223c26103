package core

import (
	"fmt"
	"strings"

	"github.com/arca-secrets/arca/core/syspath"
	"github.com/arca-secrets/arca/logical"
)

// CanonicalPath is the one spelling of a request path that both the ACL
// and the handler see. The server routes on its output and core checks
// and serves exactly that, so no handler can fold, trim or re-read a path
// into one the policy did not judge:
//
//   - empty and dot segments are refused (ErrInvalidRequest);
//   - a list keeps exactly one trailing slash; every other operation has
//     none ("auth/token/tidy/" is "auth/token/tidy", sudo included);
//   - names that handlers fold are folded here instead: ACL policy names
//     under sys/, and whatever a mounted engine declares
//     through logical.Canonicalizer (userpass usernames, AppRole role
//     names).
//
// It is idempotent. A sealed core folds no engine names (every such
// request is refused as sealed anyway).
func (c *Core) CanonicalPath(path string, op logical.Operation) (string, error) {
	p, err := canonicalSlashes(path, op)
	if err != nil {
		return "", err
	}
	if rest, ok := strings.CutPrefix(p, "sys/"); ok {
		return "sys/" + syspath.Canonical(rest), nil
	}
	st, release, err := c.enter()
	if err != nil {
		return p, nil
	}
	defer release()
	return st.foldEngineNames(p), nil
}

// foldNames folds the names in path as CanonicalPath does, leaving its
// slashes as they are.
func (st *unsealed) foldNames(path string) string {
	if rest, ok := strings.CutPrefix(path, "sys/"); ok {
		return "sys/" + syspath.Canonical(rest)
	}
	return st.foldEngineNames(path)
}

// foldEngineNames applies the matching mount's Canonicalizer.
func (st *unsealed) foldEngineNames(p string) string {
	m := st.router.match(p)
	if m == nil || m.engine == nil {
		return p
	}
	cz, ok := m.engine.(logical.Canonicalizer)
	if !ok {
		return p
	}
	rel := m.relative(p)
	if rel == "" {
		return p
	}
	return m.entry.Path + cz.CanonicalPath(rel)
}

// canonicalSlashes refuses empty and dot segments and settles the
// trailing slash by operation.
func canonicalSlashes(path string, op logical.Operation) (string, error) {
	p := strings.TrimPrefix(path, "/")
	trimmed := strings.TrimRight(p, "/")
	if trimmed == "" {
		return "", fmt.Errorf("%w: an empty request path", ErrInvalidRequest)
	}
	for _, seg := range strings.Split(trimmed, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("%w: invalid request path: empty or dot segments are not allowed", ErrInvalidRequest)
		}
	}
	if op == logical.ListOperation {
		return trimmed + "/", nil
	}
	return trimmed, nil
}
