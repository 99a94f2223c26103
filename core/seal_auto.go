package core

import (
	"context"
	"fmt"
)

// AutoUnseal unseals with a seal that unseals by itself: the seal unwraps
// the root key without shares. It does nothing on an unsealed core, and
// returns ErrSealUnsupported for a seal that needs key shares. The server
// calls it at start and, while the seal is unavailable, again later.
//
// The seal is asked outside the state lock: an HSM that takes its time
// (or never answers) does not hold up seal-status and the other requests,
// which answer sealed meanwhile.
func (c *Core) AutoUnseal(ctx context.Context) error {
	if !c.seal.AutoUnseal() {
		return c.sealUnsupported("unsealing without key shares is", "it needs a quorum of unseal key shares")
	}
	conf, err := c.readSealConfig(ctx)
	if err != nil {
		return err
	}
	if conf == nil {
		return ErrNotInitialized
	}
	if !c.Sealed() {
		return nil
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
	if err := c.unsealWithRootKey(ctx, rootKey); err != nil {
		return fmt.Errorf("unsealing: %w", err)
	}
	c.log.Info("arca unsealed", "seal", conf.Type)
	return nil
}
