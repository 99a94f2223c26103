// Package syspath spells sys/ paths one way: the aliases and name
// folding that core's CanonicalPath applies below sys/, kept apart from
// core as pure functions of the path.
package syspath

import "strings"

// foldedSysNames are the sys/ prefixes followed by an ACL policy name,
// which the policy store folds to lower case without surrounding spaces.
// (Password policy names are case-sensitive and are not folded.)
var foldedSysNames = []string{"policies/acl/"}

// sysAliases are older spellings of sys/ paths that serve the same
// objects as their current one: the ACL judges the current spelling, so a
// deny on sys/policies/acl/ops is not dodged through sys/policy/ops. A
// bare alias is rewritten itself too, not only the paths under it
// (sys/policy alone lists names and keeps its own rules).
var sysAliases = []struct {
	old, current string
	bare         bool
}{
	{"policy", "policies/acl", false},
	{"renew", "leases/renew", true},
	{"revoke", "leases/revoke", true},
}

// Canonical is the one spelling of rest, a sys/ path without "sys/"
// (already free of empty and dot segments): older aliases are rewritten
// to their current path and ACL policy names folded.
func Canonical(rest string) string {
	for _, a := range sysAliases {
		if (a.bare && rest == a.old) || strings.HasPrefix(rest, a.old+"/") {
			rest = a.current + strings.TrimPrefix(rest, a.old)
			break
		}
	}
	for _, prefix := range foldedSysNames {
		name, ok := strings.CutPrefix(rest, prefix)
		if !ok {
			continue
		}
		// A list keeps its slash; only a single segment is a name, and
		// only a fold that leaves a real segment is made (anything else
		// stays as sent, for the handler to refuse as a bad name).
		name, slash := strings.CutSuffix(name, "/")
		folded := strings.ToLower(strings.TrimSpace(name))
		if strings.Contains(name, "/") || folded == "" || folded == "." || folded == ".." {
			return rest
		}
		if slash {
			folded += "/"
		}
		return prefix + folded
	}
	return rest
}
