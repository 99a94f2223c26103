package serverrun

import (
	"context"
	"errors"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/storage"
)

// restoredElsewhere reports whether the keyring in backend, just
// replaced by a snapshot this raft node applied, is not one that c's
// root key opens: a snapshot of another cluster was restored (forced).
// A snapshot of this cluster (a lagging node's catch-up, or a restore of
// its own backup) keeps the node unsealed. No keyring at all, or one
// that cannot be read, counts as another cluster's: fail closed.
func restoredElsewhere(c *core.Core, backend storage.Backend) bool {
	if backend == nil || c.Sealed() {
		return false
	}
	e, err := backend.Get(context.Background(), barrier.KeyringPath)
	if err != nil {
		return false
	}
	if e == nil {
		return true
	}
	err = c.OpensKeyring(e.Value)
	return errors.Is(err, barrier.ErrBadRootKey) || errors.Is(err, barrier.ErrCorruptKeyring)
}
