package core

import (
	"context"
	"crypto/subtle"

	"github.com/arca-secrets/arca/core/sealconf"
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/secmem"
)

// rekeyState is a rekey in progress: the new configuration and the current
// shares given so far. c.rekeyLock guards it.
type rekeyState struct {
	nonce     string
	shares    int
	threshold int
	given     secmem.Shares
}

func (r *rekeyState) wipe() {
	if r == nil {
		return
	}
	r.given.Destroy()
}

// RekeyStatus describes a rekey in progress.
type RekeyStatus struct {
	Started   bool
	Nonce     string
	Shares    int // new shares
	Threshold int // new threshold
	Progress  int
	Required  int // current threshold
	// Complete and Keys are set by the update that finishes the rekey.
	Complete bool
	Keys     [][]byte
}

// RekeyInit starts replacing the unseal key with one split into shares
// with threshold; with a seal that unseals by itself, the recovery key
// (authorised by the current recovery shares). The root key and data are
// untouched.
func (c *Core) RekeyInit(ctx context.Context, shares, threshold int) (RekeyStatus, error) {
	kind := "secret"
	if c.seal.AutoUnseal() {
		kind = "recovery"
	}
	if err := validateSplit(kind, shares, threshold); err != nil {
		return RekeyStatus{}, err
	}
	if c.Sealed() {
		return RekeyStatus{}, ErrSealed
	}
	// Refuse at once what no shares could authorise (a seal that unseals
	// by itself, initialised without recovery shares).
	conf, err := sealconf.Read(ctx, c.physical)
	if err != nil {
		return RekeyStatus{}, err
	}
	if conf == nil {
		return RekeyStatus{}, ErrNotInitialized
	}
	if _, err := c.quorumFor(conf); err != nil {
		return RekeyStatus{}, err
	}
	c.rekeyLock.Lock()
	defer c.rekeyLock.Unlock()
	if c.rekey != nil {
		return RekeyStatus{}, ErrRekeyInProgress
	}
	nonce, err := randomID()
	if err != nil {
		return RekeyStatus{}, err
	}
	c.rekey = &rekeyState{nonce: nonce, shares: shares, threshold: threshold}
	c.log.Info("rekey started", "shares", shares, "threshold", threshold)
	return c.rekeyStatusLocked(ctx)
}

// RekeyStatus reports the rekey in progress, if any.
func (c *Core) RekeyStatus(ctx context.Context) (RekeyStatus, error) {
	if c.Sealed() {
		return RekeyStatus{}, ErrSealed
	}
	c.rekeyLock.Lock()
	defer c.rekeyLock.Unlock()
	return c.rekeyStatusLocked(ctx)
}

func (c *Core) rekeyStatusLocked(ctx context.Context) (RekeyStatus, error) {
	conf, err := sealconf.Read(ctx, c.physical)
	if err != nil {
		return RekeyStatus{}, err
	}
	if conf == nil {
		return RekeyStatus{}, ErrNotInitialized
	}
	st := RekeyStatus{Required: conf.Threshold}
	if c.seal.AutoUnseal() {
		st.Required = conf.RecoveryThreshold
	}
	if c.rekey != nil {
		st.Started, st.Nonce = true, c.rekey.nonce
		st.Shares, st.Threshold = c.rekey.shares, c.rekey.threshold
		st.Progress = c.rekey.given.Len()
	}
	return st, nil
}

// RekeyCancel abandons the rekey in progress.
func (c *Core) RekeyCancel() {
	c.rekeyLock.Lock()
	defer c.rekeyLock.Unlock()
	c.rekey.wipe()
	c.rekey = nil
}

// RekeyUpdate takes one current unseal key share. When the current
// threshold is reached and the shares open the root key, a new unseal key
// is generated, the root key re-sealed with it, and the new shares
// returned. Wrong shares cancel nothing but reset the progress.
func (c *Core) RekeyUpdate(ctx context.Context, share []byte, nonce string) (RekeyStatus, error) {
	_, release, err := c.enter()
	if err != nil {
		return RekeyStatus{}, err
	}
	defer release()
	c.rekeyLock.Lock()
	defer c.rekeyLock.Unlock()
	if c.rekey == nil {
		return RekeyStatus{}, ErrNoRekey
	}
	if subtle.ConstantTimeCompare([]byte(nonce), []byte(c.rekey.nonce)) != 1 {
		return RekeyStatus{}, ErrNonceMismatch
	}
	conf, err := sealconf.Read(ctx, c.physical)
	if err != nil {
		return RekeyStatus{}, err
	}
	if conf == nil {
		return RekeyStatus{}, ErrNotInitialized
	}
	q, err := c.quorumFor(conf)
	if err != nil {
		return RekeyStatus{}, err
	}
	if err := q.check(share); err != nil {
		return RekeyStatus{}, err
	}
	c.rekey.given.Mode = c.memory
	if added, err := c.rekey.given.Add(share); err != nil {
		return RekeyStatus{}, err
	} else if !added {
		return c.rekeyStatusLocked(ctx)
	}
	if c.rekey.given.Len() < q.split.Threshold {
		return c.rekeyStatusLocked(ctx)
	}
	finish := c.finishRekey
	if c.seal.AutoUnseal() {
		finish = func(ctx context.Context, conf *sealconf.Config) ([][]byte, error) {
			return c.finishRecoveryRekey(ctx, conf, q)
		}
	}
	keys, err := finish(ctx, conf)
	if err != nil {
		c.rekey.wipe()
		return RekeyStatus{}, err
	}
	st := RekeyStatus{Started: false, Nonce: c.rekey.nonce, Shares: c.rekey.shares, Threshold: c.rekey.threshold, Required: c.rekey.threshold, Complete: true, Keys: keys}
	c.rekey.wipe()
	c.rekey = nil
	c.log.Info("rekey complete", "shares", st.Shares, "threshold", st.Threshold)
	return st, nil
}

// finishRekey has the seal unwrap the root key with the current shares
// and wrap it again for a new split, and stores the result.
func (c *Core) finishRekey(ctx context.Context, conf *sealconf.Config) ([][]byte, error) {
	rootKey, err := c.unwrapRootKey(ctx, conf, c.rekey.given.Views())
	if err != nil {
		return nil, err
	}
	defer clear(rootKey)
	next, shares, err := c.wrapRootKey(ctx, rootKey, seal.Split{Shares: c.rekey.shares, Threshold: c.rekey.threshold})
	if err != nil {
		return nil, err
	}
	if err := sealconf.Write(ctx, c.physical, next); err != nil {
		for _, s := range shares {
			clear(s)
		}
		return nil, err
	}
	return shares, nil
}

// finishRecoveryRekey checks the current recovery shares and replaces the
// recovery key with a new one split as asked; the root key is untouched.
// Shares that do not open the recovery key reset the progress.
func (c *Core) finishRecoveryRekey(ctx context.Context, conf *sealconf.Config, q shareQuorum) ([][]byte, error) {
	if err := q.verify(ctx, c.rekey.given.Views()); err != nil {
		return nil, err
	}
	next := *conf
	shares, err := c.addRecoveryKey(ctx, &next, seal.Split{Shares: c.rekey.shares, Threshold: c.rekey.threshold})
	if err != nil {
		return nil, err
	}
	if err := sealconf.Write(ctx, c.physical, &next); err != nil {
		for _, s := range shares {
			clear(s)
		}
		return nil, err
	}
	return shares, nil
}
