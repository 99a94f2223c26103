// Package glob matches the simple patterns auth methods bind with: "*"
// stands for any run of characters, "/" and "." included (cgroup paths
// are deep, and Vault's certificate name globs match across labels).
package glob

import "strings"

// Match reports whether s matches pattern.
func Match(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}
