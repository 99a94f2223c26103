package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/arca-secrets/arca/core/genroot"
	"github.com/arca-secrets/arca/core/sealconf"
)

// GenerateRootInit starts generating a root token: a quorum of key shares
// (quorumFor says which) will make a new one, for when every root token has
// been revoked. otp is the one-time pad to encode it with
// (genroot.OTPLength base62 characters), or empty to have one made and
// returned once. Only one generation runs at a time; sealing ends it.
func (c *Core) GenerateRootInit(ctx context.Context, otp string) (genroot.Status, error) {
	// The state lock is held until the generation exists, so that a seal,
	// which ends it, cannot pass in between.
	_, release, err := c.enter()
	if err != nil {
		return genroot.Status{}, err
	}
	defer release()
	q, err := c.currentQuorum(ctx)
	if err != nil {
		return genroot.Status{}, err
	}
	st, err := c.genRoot.Start(otp)
	if err != nil {
		return genroot.Status{}, genRootError(err)
	}
	c.log.Info("root token generation started")
	st.Required = q.split.Threshold
	return st, nil
}

// GenerateRootStatus reports the root token generation in progress, if any.
func (c *Core) GenerateRootStatus(ctx context.Context) (genroot.Status, error) {
	_, release, err := c.enter()
	if err != nil {
		return genroot.Status{}, err
	}
	defer release()
	q, err := c.currentQuorum(ctx)
	if err != nil {
		return genroot.Status{}, err
	}
	st := c.genRoot.Status()
	st.Required = q.split.Threshold
	return st, nil
}

// GenerateRootCancel ends the root token generation in progress, wiping
// its shares and pad. There being none is not an error.
func (c *Core) GenerateRootCancel() error {
	_, release, err := c.enter()
	if err != nil {
		return err
	}
	defer release()
	if c.genRoot.Cancel() {
		c.log.Info("root token generation canceled")
	}
	return nil
}

// GenerateRootUpdate takes one key share for the generation with nonce.
// When the quorum is in and the shares open this server's key, a root
// token is created and returned encoded with the OTP, and the generation
// ends. Shares that do not open it reset the progress (ErrSharesRejected)
// and the generation goes on; a malformed share is refused without
// counting; a share given already is ignored.
func (c *Core) GenerateRootUpdate(ctx context.Context, share []byte, nonce string) (genroot.Status, error) {
	st, release, err := c.enter()
	if err != nil {
		return genroot.Status{}, err
	}
	defer release()
	// A rekey must not replace the seal configuration between the reading
	// of it here and the check of the shares against it: shares that a
	// rekey retired would still open the root key it held.
	c.rekeyLock.Lock()
	defer c.rekeyLock.Unlock()
	q, err := c.currentQuorum(ctx)
	if err != nil {
		return genroot.Status{}, err
	}
	if err := q.check(share); err != nil {
		return genroot.Status{}, err
	}
	out, err := c.genRoot.Add(nonce, share, q.split.Threshold, func(shares [][]byte) (string, error) {
		if err := q.verify(ctx, shares); err != nil {
			c.log.Warn("root token generation: key shares rejected, progress reset")
			return "", err
		}
		id, err := createRootToken(ctx, st.tokens, "")
		if err != nil {
			return "", fmt.Errorf("creating the root token: %w", err)
		}
		c.log.Info("root token generated")
		return id, nil
	})
	out.Required = q.split.Threshold
	return out, genRootError(err)
}

// currentQuorum is the quorum of the stored seal configuration.
func (c *Core) currentQuorum(ctx context.Context) (shareQuorum, error) {
	conf, err := sealconf.Read(ctx, c.physical)
	if err != nil {
		return shareQuorum{}, err
	}
	if conf == nil {
		return shareQuorum{}, ErrNotInitialized
	}
	return c.quorumFor(conf)
}

// genRootError marks the generation's refusals as invalid requests (400).
func genRootError(err error) error {
	switch {
	case errors.Is(err, genroot.ErrInProgress), errors.Is(err, genroot.ErrNotStarted),
		errors.Is(err, genroot.ErrNonce), errors.Is(err, genroot.ErrInvalidOTP):
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	return err
}
