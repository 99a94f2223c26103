package transit

import (
	"context"
	"strings"

	"github.com/arca-secrets/arca/logical"
)

// Exists tells core whether a write creates or updates, for the policy
// check. An encrypt to a missing key creates the key, so, as in Vault, it
// needs the "create" capability: a token allowed only to update
// encrypt/NAME (a transit seal's token) cannot make a new key in place of
// a deleted one. Every other write works on what is there.
func (e *engine) Exists(ctx context.Context, req *logical.Request) (bool, error) {
	first, name, _ := strings.Cut(strings.Trim(req.Path, "/"), "/")
	if first != "encrypt" || !validName(name) {
		return true, nil
	}
	p, err := e.keys.get(ctx, req.Storage, name)
	if err != nil {
		return false, err
	}
	return p != nil, nil
}

var _ logical.ExistenceChecker = (*engine)(nil)
