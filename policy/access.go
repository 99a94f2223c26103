package policy

import "strings"

// HasAccessUnder reports whether the ACL grants some capability (other
// than deny) on prefix or on any path under it: what a token must hold
// on a mount for the mount to be shown to it (sys/internal/ui/mounts).
func (a *ACL) HasAccessUnder(prefix string) bool {
	if a.root {
		return true
	}
	grants := func(r *rule) bool { return r.caps&Deny == 0 && r.caps != 0 }
	if r := a.match(prefix); r != nil && grants(r) {
		return true
	}
	for pattern, r := range a.exact {
		if strings.HasPrefix(pattern, prefix) && grants(r) {
			return true
		}
	}
	var walk func(n *node, literal string) bool
	walk = func(n *node, literal string) bool {
		// A rule hanging here covers paths that start with literal; it
		// reaches under prefix when one of the two extends the other.
		if strings.HasPrefix(literal, prefix) || strings.HasPrefix(prefix, literal) {
			if n.prefix != nil && grants(n.prefix) {
				return true
			}
			for _, r := range n.plus {
				if grants(r) {
					return true
				}
			}
		} else {
			return false
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
