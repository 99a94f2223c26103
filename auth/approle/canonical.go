package approle

import (
	"strings"

	"github.com/arca-secrets/arca/logical"
)

var _ logical.Canonicalizer = (*engine)(nil)

// CanonicalPath folds the role name in role/:name... to lower case, as
// the handlers do (role names are case-insensitive), so that core checks
// the policy on the path the handler serves.
func (e *engine) CanonicalPath(path string) string {
	parts := strings.SplitN(path, "/", 3)
	if len(parts) < 2 || parts[0] != "role" {
		return path
	}
	parts[1] = strings.ToLower(parts[1])
	return strings.Join(parts, "/")
}
