package core

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/secmem"
)

// unsealProgress holds the shares given so far, in locked memory.
// c.stateLock guards it.
type unsealProgress struct {
	shares []*secmem.Buffer
	nonce  string
}

func (p *unsealProgress) reset() {
	for _, b := range p.shares {
		b.Destroy()
	}
	p.shares = nil
	p.nonce = ""
}

// SealStatus is what sys/seal-status reports.
type SealStatus struct {
	Type        string
	Initialized bool
	Sealed      bool
	Threshold   int
	Shares      int
	Progress    int
	Nonce       string
	StorageType string
}

// SealStatus reports the seal state and unseal progress.
func (c *Core) SealStatus(ctx context.Context) (SealStatus, error) {
	conf, err := c.readSealConfig(ctx)
	if err != nil {
		return SealStatus{}, err
	}
	c.stateLock.RLock()
	defer c.stateLock.RUnlock()
	return c.sealStatusLocked(conf), nil
}

func (c *Core) sealStatusLocked(conf *sealConfig) SealStatus {
	st := SealStatus{Type: "shamir", Sealed: c.sealed, StorageType: c.storageType}
	if conf == nil {
		return st
	}
	st.Initialized = true
	st.Threshold, st.Shares = conf.Threshold, conf.Shares
	st.Progress, st.Nonce = len(c.unseal.shares), c.unseal.nonce
	return st
}

// DecodeKey accepts a key share in hex or standard base64, as Vault does.
func DecodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return nil, fmt.Errorf("%w: not hex or base64", ErrInvalidUnsealKey)
}

// ResetUnseal discards the unseal progress.
func (c *Core) ResetUnseal(ctx context.Context) (SealStatus, error) {
	c.stateLock.Lock()
	c.unseal.reset()
	c.stateLock.Unlock()
	return c.SealStatus(ctx)
}

// Unseal adds one key share. When the threshold is reached the shares are
// combined and the barrier opened; a wrong combination resets progress and
// returns ErrUnsealFailed. A malformed share is refused without counting.
// A share already given is ignored.
func (c *Core) Unseal(ctx context.Context, share []byte) (SealStatus, error) {
	conf, err := c.readSealConfig(ctx)
	if err != nil {
		return SealStatus{}, err
	}
	if conf == nil {
		return SealStatus{}, ErrNotInitialized
	}
	c.stateLock.Lock()
	defer c.stateLock.Unlock()
	if !c.sealed {
		return c.sealStatusLocked(conf), nil
	}
	if len(share) != shareLen(conf) {
		return c.sealStatusLocked(conf), fmt.Errorf("%w: a key share is %d bytes, got %d", ErrInvalidUnsealKey, shareLen(conf), len(share))
	}
	for _, b := range c.unseal.shares {
		if subtle.ConstantTimeCompare(b.Bytes(), share) == 1 {
			return c.sealStatusLocked(conf), nil
		}
	}
	buf, err := secmem.New(len(share), c.memory)
	if err != nil {
		return SealStatus{}, fmt.Errorf("locking key share: %w", err)
	}
	copy(buf.Bytes(), share)
	c.unseal.shares = append(c.unseal.shares, buf)
	if c.unseal.nonce == "" {
		if c.unseal.nonce, err = randomID(); err != nil {
			return SealStatus{}, err
		}
	}
	if len(c.unseal.shares) < conf.Threshold {
		return c.sealStatusLocked(conf), nil
	}
	err = c.unsealWithShares(ctx, conf)
	c.unseal.reset()
	if err != nil {
		return c.sealStatusLocked(conf), err
	}
	c.log.Info("arca unsealed")
	return c.sealStatusLocked(conf), nil
}

func (c *Core) unsealWithShares(ctx context.Context, conf *sealConfig) error {
	shares := make([][]byte, len(c.unseal.shares))
	for i, b := range c.unseal.shares {
		shares[i] = b.Bytes()
	}
	unsealKey, err := combineShares(shares, conf.Threshold)
	if err != nil {
		return ErrUnsealFailed
	}
	defer clear(unsealKey)
	if len(unsealKey) != barrier.KeySize {
		return ErrUnsealFailed
	}
	rootKey, err := conf.openRootKey(unsealKey)
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
	tokens, err := c.openTokens(ctx)
	if err != nil {
		c.barrier.Seal()
		return err
	}
	r, err := c.loadMounts(ctx)
	if err != nil {
		c.barrier.Seal()
		return err
	}
	if err := c.startAudit(ctx); err != nil {
		c.barrier.Seal()
		return err
	}
	c.tokens, c.router, c.sealed = tokens, r, false
	c.leases = c.openLeases()
	c.startTidy()
	return nil
}

// Seal wipes every key from memory. Requests in flight finish first.
func (c *Core) Seal(ctx context.Context) error {
	c.stateLock.Lock()
	defer c.stateLock.Unlock()
	if c.sealed {
		return nil
	}
	c.sealLocked()
	c.log.Info("arca sealed")
	return nil
}

func (c *Core) sealLocked() {
	if c.stopTidy != nil {
		c.stopTidy()
		c.stopTidy = nil
	}
	c.audit.Close()
	c.router.closeEngines()
	c.barrier.Seal()
	c.unseal.reset()
	c.tokens.Wipe()
	c.tokens, c.router, c.sealed = nil, nil, true
	c.leases = nil
	c.policies.reset()
	c.rekeyLock.Lock()
	c.rekey.wipe()
	c.rekey = nil
	c.rekeyLock.Unlock()
}
