package core

import (
	"context"
	"fmt"

	"github.com/arca-secrets/arca/core/sealconf"
	"github.com/arca-secrets/arca/events"
	"github.com/arca-secrets/arca/secmem"
)

// unsealProgress holds the shares given so far, in locked memory.
// c.stateLock guards it.
type unsealProgress struct {
	shares secmem.Shares
	nonce  string
}

func (p *unsealProgress) reset() {
	p.shares.Destroy()
	p.nonce = ""
}

// SealStatus is what sys/seal-status reports.
type SealStatus struct {
	// Type is the configured seal's.
	Type        string
	Initialized bool
	Sealed      bool
	// Threshold and Shares are the unseal key's split; with a seal that
	// unseals by itself (RecoverySeal), the recovery key's, as Vault
	// reports them.
	Threshold    int
	Shares       int
	RecoverySeal bool
	Progress     int
	Nonce        string
	StorageType  string
	// Migration: the server is in seal migration mode; Threshold and
	// Shares are then the old seal's shares that authorise it.
	Migration bool
}

// SealStatus reports the seal state and unseal progress.
func (c *Core) SealStatus(ctx context.Context) (SealStatus, error) {
	conf, err := sealconf.Read(ctx, c.physical)
	if err != nil {
		return SealStatus{}, err
	}
	c.stateLock.RLock()
	defer c.stateLock.RUnlock()
	return c.sealStatusLocked(conf), nil
}

func (c *Core) sealStatusLocked(conf *sealconf.Config) SealStatus {
	st := SealStatus{Type: c.seal.Type(), Sealed: c.state == nil, StorageType: c.storageType, RecoverySeal: c.seal.AutoUnseal()}
	if conf == nil {
		return st
	}
	st.Initialized = true
	st.Threshold, st.Shares = conf.Threshold, conf.Shares
	if st.RecoverySeal {
		st.Threshold, st.Shares = conf.RecoveryThreshold, conf.RecoveryShares
	}
	if c.migrating(conf) {
		split := c.migration().Split(conf)
		st.Migration, st.RecoverySeal = true, c.oldSeal.AutoUnseal()
		st.Threshold, st.Shares = split.Threshold, split.Shares
	}
	st.Progress, st.Nonce = c.unseal.shares.Len(), c.unseal.nonce
	return st
}

// ResetUnseal discards the unseal progress.
func (c *Core) ResetUnseal(ctx context.Context) (SealStatus, error) {
	c.stateLock.Lock()
	c.unseal.reset()
	c.stateLock.Unlock()
	return c.SealStatus(ctx)
}

// Unseal adds one unseal key share. When the threshold is reached the seal
// unwraps the root key with the shares and the barrier is opened; shares
// that do not unwrap it reset progress and return ErrUnsealFailed. A share
// the seal can tell is malformed is refused without counting; a share
// already given is ignored. A seal that unseals by itself takes no shares
// (ErrSealUnsupported): see AutoUnseal. A server in seal migration mode
// refuses with ErrMigrationRequired: see UnsealMigrate.
func (c *Core) Unseal(ctx context.Context, share []byte) (SealStatus, error) {
	return c.unsealShare(ctx, share, false)
}

func (c *Core) unsealShare(ctx context.Context, share []byte, migrate bool) (SealStatus, error) {
	conf, err := sealconf.Read(ctx, c.physical)
	if err != nil {
		return SealStatus{}, err
	}
	if conf == nil {
		return SealStatus{}, ErrNotInitialized
	}
	c.stateLock.Lock()
	defer c.stateLock.Unlock()
	if c.state != nil {
		return c.sealStatusLocked(conf), nil
	}
	if err := c.checkUnsealShare(conf, share, migrate); err != nil {
		return c.sealStatusLocked(conf), err
	}
	c.unseal.shares.Mode = c.memory
	if added, err := c.unseal.shares.Add(share); err != nil || !added {
		return c.sealStatusLocked(conf), err
	}
	if c.unseal.nonce == "" {
		if c.unseal.nonce, err = randomID(); err != nil {
			return SealStatus{}, err
		}
	}
	if c.unseal.shares.Len() < c.sealStatusLocked(conf).Threshold {
		return c.sealStatusLocked(conf), nil
	}
	if migrate {
		conf, err = c.migrateSeal(ctx, conf, c.unseal.shares.Views())
	} else {
		err = c.unsealWithShares(ctx, conf)
	}
	c.unseal.reset()
	if err != nil {
		return c.sealStatusLocked(conf), err
	}
	c.log.Info("arca unsealed")
	return c.sealStatusLocked(conf), nil
}

// checkUnsealShare refuses a share before it is counted: on a seal that
// takes none, with or without migrate when the server is not or is in
// migration mode, or malformed.
func (c *Core) checkUnsealShare(conf *sealconf.Config, share []byte, migrate bool) error {
	switch {
	case migrate && !c.migrating(conf):
		return fmt.Errorf("%w: %w", ErrInvalidRequest, ErrNotMigrating)
	case !migrate && c.migrating(conf):
		return fmt.Errorf("%w: %w", ErrInvalidRequest, ErrMigrationRequired)
	case migrate:
		if err := c.migration().Check(conf); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
		}
		if c.oldSeal.AutoUnseal() {
			return checkRecoveryShare(share, conf.RecoverySplit())
		}
		return checkShareWith(c.oldSeal, share, conf.Split())
	case c.seal.AutoUnseal():
		return c.sealUnsupported("unseal key shares are", "it unseals by itself")
	}
	if err := c.matchSeal(conf); err != nil {
		return err
	}
	return checkShareWith(c.seal, share, conf.Split())
}

func (c *Core) unsealWithShares(ctx context.Context, conf *sealconf.Config) error {
	rootKey, err := c.unwrapRootKey(ctx, conf, c.unseal.shares.Views())
	if err != nil {
		return err
	}
	defer clear(rootKey)
	return c.unsealWithRootKey(ctx, rootKey)
}

// unsealWithRootKey opens the barrier and loads what requests need.
// c.stateLock must be held for writing.
func (c *Core) unsealWithRootKey(ctx context.Context, rootKey []byte) error {
	if err := c.barrier.Unseal(ctx, rootKey); err != nil {
		return fmt.Errorf("opening barrier: %w", err)
	}
	st := &unsealed{}
	tokens, err := c.openTokens(ctx, st)
	if err != nil {
		c.barrier.Seal()
		return err
	}
	st.tokens = tokens
	st.tokenAPI = c.openTokenAPI(st)
	st.leases = c.openLeases(st)
	if st.router, err = c.loadMounts(ctx, st); err != nil {
		tokens.Wipe()
		c.barrier.Seal()
		return err
	}
	if err := c.auditTable.Start(ctx); err != nil {
		st.router.closeEngines()
		tokens.Wipe()
		c.barrier.Seal()
		return err
	}
	c.state = st
	// One node alone is the active node once unsealed; in a cluster the
	// leader's watcher makes it so (SetActive).
	if !c.ha {
		c.becomeActive(st)
	}
	return nil
}

// Seal wipes every key from memory. Requests in flight finish first.
func (c *Core) Seal(ctx context.Context) error {
	c.stateLock.Lock()
	defer c.stateLock.Unlock()
	if c.state == nil {
		return nil
	}
	c.sealLocked()
	c.log.Info("arca sealed")
	return nil
}

func (c *Core) sealLocked() {
	st := c.state
	st.stepDown()
	c.events.EndAll(events.ErrSealed)
	c.state = nil
	c.audit.Close()
	st.router.closeEngines()
	c.barrier.Seal()
	c.unseal.reset()
	st.tokens.Wipe()
	c.policies.reset()
	c.rekeyLock.Lock()
	c.rekey.wipe()
	c.rekey = nil
	c.rekeyLock.Unlock()
	c.genRoot.Cancel()
}
