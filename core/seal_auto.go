package core

import (
	"context"
	"fmt"

	"github.com/arca-secrets/arca/core/sealconf"
	"github.com/arca-secrets/arca/seal"
)

// errSealConfigChanged: the seal configuration changed while its root key
// was being unwrapped. It matches seal.ErrUnavailable, so that the
// start-up loop tries again.
var errSealConfigChanged = fmt.Errorf("the seal configuration changed while unsealing (%w for now: try again)", seal.ErrUnavailable)

// AutoUnseal unseals with a seal that unseals by itself: the seal unwraps
// the root key without shares. It does nothing on an unsealed core, and
// returns ErrSealUnsupported for a seal that needs key shares, and
// ErrMigrationRequired in seal migration mode. The server
// calls it at start and, while the seal is unavailable, again later.
//
// The seal may call another server and wait on it, so the root key is
// unwrapped before the state lock is taken: seal-status and health answer
// meanwhile. Under the lock, the stored configuration must still be the
// one unwrapped.
func (c *Core) AutoUnseal(ctx context.Context) error {
	if !c.seal.AutoUnseal() {
		return c.sealUnsupported("unsealing without key shares is", "it needs a quorum of unseal key shares")
	}
	if !c.Sealed() {
		return nil
	}
	conf, err := sealconf.Read(ctx, c.physical)
	if err != nil {
		return err
	}
	if conf == nil {
		return ErrNotInitialized
	}
	if c.migrating(conf) {
		return ErrMigrationRequired
	}
	rootKey, err := c.unwrapRootKey(ctx, conf, nil)
	if err != nil {
		return err
	}
	defer clear(rootKey)
	c.stateLock.Lock()
	defer c.stateLock.Unlock()
	if c.state != nil {
		return nil
	}
	now, err := sealconf.Read(ctx, c.physical)
	if err != nil {
		return err
	}
	if now == nil || now.Nonce != conf.Nonce {
		return errSealConfigChanged
	}
	if err := c.unsealWithRootKey(ctx, rootKey); err != nil {
		return fmt.Errorf("unsealing: %w", err)
	}
	c.log.Info("arca unsealed", "seal", conf.Type)
	return nil
}
