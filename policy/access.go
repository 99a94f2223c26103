package policy

import "strings"

// HasAccessUnder reports whether the ACL grants some capability (other
// than deny) on prefix or on any path under it: what a token must hold
// on a mount for the mount to be shown to it (sys/internal/ui/mounts).
func (a *ACL) HasAccessUnder(prefix string) bool {
	if a.root {
		return true
	}
	grants := func(r *rule) bool { return r != nil && r.caps&Deny == 0 && r.caps != 0 }
	if grants(a.match(prefix)) {
		return true
	}
	// A rule from above (a glob such as "*" or "k+/*") reaches under
	// prefix only where nothing more specific governs: ask what decides
	// an ordinary path directly under it, so that a deny on "prefix*"
	// hides the mount even when "*" grants.
	if grants(a.match(prefix + "\x00")) {
		return true
	}
	// Rules inside prefix grant on the paths they name.
	for pattern, r := range a.exact {
		if strings.HasPrefix(pattern, prefix) && grants(r) {
			return true
		}
	}
	var walk func(n *node, literal string) bool
	walk = func(n *node, literal string) bool {
		inside := strings.HasPrefix(literal, prefix)
		if !inside && !strings.HasPrefix(prefix, literal) {
			return false
		}
		if inside {
			if grants(n.prefix) {
				return true
			}
			for _, r := range n.plus {
				if grants(r) {
					return true
				}
			}
		}
		for b, c := range n.children {
			if walk(c, literal+string(b)) {
				return true
			}
		}
		return false
	}
	return walk(a.trie, "")
}

// MayAllow reports whether op on path could be allowed with some request
// parameters: what the pipeline asks before it reads a body, so that a
// caller refused whatever it sends costs no parse.
func (a *ACL) MayAllow(path, op string) bool {
	if a.root {
		return true
	}
	need, err := ForOperation(op)
	if err != nil {
		return false
	}
	grants := func(r *rule) bool { return r != nil && r.caps&Deny == 0 && r.caps&need != 0 }
	r, narrow := a.govern(path, need == List)
	return grants(r) && (narrow == nil || grants(narrow))
}
