package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/arca-secrets/arca/events"
	"github.com/arca-secrets/arca/lease"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/token"
)

const leasePrefix = "sys/expire/"

// leaseInterval is how often due leases are revoked.
const leaseInterval = time.Second

func (c *Core) openLeases(st *unsealed) *lease.Manager {
	return lease.New(lease.Config{
		Storage: storage.NewView(c.barrier, leasePrefix), Now: c.now,
		Revoke:       func(ctx context.Context, l *lease.Lease) error { return c.revokeLease(ctx, st, l) },
		RevokeTokens: func(ctx context.Context, accs []string) []error { return st.tokens.RevokeAccessors(ctx, accs) },
		Removed:      func(l *lease.Lease) { c.events.Publish(events.LeaseRevoked(l.ID, l.Path)) },
	})
}

// revokeLease revokes what a lease stands for.
func (c *Core) revokeLease(ctx context.Context, st *unsealed, l *lease.Lease) error {
	switch l.Kind {
	case lease.KindToken:
		err := st.tokens.RevokeAccessor(ctx, l.TokenAccessor)
		if errors.Is(err, token.ErrNotFound) {
			return nil
		}
		return err
	case lease.KindSecret:
		m := st.mountByAccessor(l.MountAccessor)
		if m == nil {
			return fmt.Errorf("the mount that issued %s is gone; use revoke-force to drop the lease", l.ID)
		}
		rv, ok := m.engine.(logical.SecretRevoker)
		if !ok {
			return nil
		}
		err := rv.RevokeSecret(ctx, &logical.Request{Operation: logical.DeleteOperation, Path: strings.TrimPrefix(l.Path, m.entry.Path), Storage: m.view, MountPoint: m.entry.Path}, l.InternalData)
		if err != nil {
			// Engines' errors name what failed, never a secret.
			c.log.Warn("revoking a secret failed; the lease is kept for a retry", "lease_id", l.ID, "error", err.Error())
		}
		return err
	}
	return fmt.Errorf("lease %s has an unknown kind %q", l.ID, l.Kind)
}

func (st *unsealed) mountByAccessor(acc string) *mount {
	st.router.mu.RLock()
	defer st.router.mu.RUnlock()
	for _, m := range st.router.mounts {
		if m.entry.Accessor == acc {
			return m
		}
	}
	return nil
}

// leaseLoginToken stages the lease of a service token issued by a login,
// so that revoke-prefix on the login path reaches it; the token store
// writes it with the token, in one durable step.
func leaseLoginToken(st *unsealed, e *token.Entry, path string) (*storage.Step, error) {
	step := &storage.Step{}
	if e.ExpireTime.IsZero() {
		return step, nil
	}
	var maxTTL time.Duration
	if !e.MaxExpireTime.IsZero() {
		maxTTL = e.MaxExpireTime.Sub(e.CreationTime)
	}
	_, err := st.leases.Stage(step, lease.Lease{
		Kind: lease.KindToken, Path: path, MountAccessor: e.MountAccessor, TokenAccessor: e.Accessor, Renewable: e.Renewable,
	}, e.ExpireTime.Sub(e.CreationTime), maxTTL)
	return step, err
}

func (c *Core) expireLeases(ctx context.Context) {
	st, release, ok := c.activeState(ctx)
	if !ok {
		return
	}
	defer release()
	n, err := st.leases.ExpireDue(ctx)
	if err != nil {
		c.log.Warn("some leases could not be revoked; they are kept and retried", "error", err)
	}
	if n > 0 {
		c.log.Info("revoked expired leases", "count", n)
	}
}

func leaseErr(err error) error {
	switch {
	case errors.Is(err, lease.ErrNotFound), errors.Is(err, lease.ErrNotRenewable), errors.Is(err, lease.ErrInvalid):
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	return err
}

// LeaseLookup returns a lease.
func (c *Core) LeaseLookup(ctx context.Context, id string) (*lease.Lease, error) {
	st, release, err := c.enter()
	if err != nil {
		return nil, err
	}
	defer release()
	l, err := st.leases.Lookup(ctx, strings.Trim(id, "/"))
	return l, leaseErr(err)
}

// LeaseList lists lease ids under prefix.
func (c *Core) LeaseList(ctx context.Context, prefix string) ([]string, error) {
	st, release, err := c.enter()
	if err != nil {
		return nil, err
	}
	defer release()
	names, err := st.leases.List(ctx, prefix)
	return names, leaseErr(err)
}

// LeaseRenew renews a lease (and the token behind a token lease).
func (c *Core) LeaseRenew(ctx context.Context, id string, increment time.Duration) (*lease.Lease, error) {
	st, release, err := c.enter()
	if err != nil {
		return nil, err
	}
	defer release()
	l, err := st.leases.Renew(ctx, strings.Trim(id, "/"), increment, func(l *lease.Lease, want time.Time) (time.Time, error) {
		if l.Kind == lease.KindSecret {
			return c.renewSecret(ctx, st, l, want)
		}
		if l.Kind != lease.KindToken {
			return want, nil
		}
		te, err := st.tokens.LookupAccessor(ctx, l.TokenAccessor)
		if err != nil {
			return want, lease.ErrNotFound
		}
		if err := c.checkLoginStillValid(ctx, st, te); err != nil {
			return want, err
		}
		renewed, err := st.tokens.Renew(ctx, te, want.Sub(c.now()))
		if err != nil {
			return want, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
		}
		return renewed.ExpireTime, nil
	})
	return l, leaseErr(err)
}

// LeaseRevoke revokes one lease.
func (c *Core) LeaseRevoke(ctx context.Context, id string) error {
	st, release, err := c.enter()
	if err != nil {
		return err
	}
	defer release()
	return leaseErr(st.leases.Revoke(ctx, strings.Trim(id, "/"), false))
}

// LeaseRevokePrefix revokes every lease under prefix; force drops leases
// without asking their issuer.
func (c *Core) LeaseRevokePrefix(ctx context.Context, prefix string, force bool) (int, error) {
	st, release, err := c.enter()
	if err != nil {
		return 0, err
	}
	defer release()
	return c.revokePrefix(ctx, st, prefix, force)
}

// LeaseRevokePrefixQueued starts revoke-prefix in the background on the
// active node and returns at once (Vault's sync=false). A lease whose
// revocation fails is kept and retried by the expiry worker, as always.
func (c *Core) LeaseRevokePrefixQueued(prefix string, force bool) error {
	if err := lease.CheckPrefix(prefix); err != nil {
		return leaseErr(err)
	}
	st, release, err := c.enter()
	if err != nil {
		return err
	}
	ctx := st.activeCtx
	release()
	if ctx == nil {
		return fmt.Errorf("%w: this node is not the active one", ErrInvalidRequest)
	}
	go func() {
		st, release, ok := c.activeState(ctx)
		if !ok {
			return
		}
		defer release()
		_, _ = c.revokePrefix(ctx, st, prefix, force)
	}()
	return nil
}

func (c *Core) revokePrefix(ctx context.Context, st *unsealed, prefix string, force bool) (int, error) {
	start, last := c.now(), c.now()
	n, err := st.leases.RevokePrefix(ctx, prefix, force, func(done int) {
		// A long run says how far it got, every few seconds.
		if now := c.now(); now.Sub(last) >= 5*time.Second {
			last = now
			c.log.Info("revoke-prefix in progress", "prefix", prefix, "revoked", done, "elapsed", now.Sub(start).Round(time.Second).String())
		}
	})
	c.log.Info("revoke-prefix", "prefix", prefix, "force", force, "revoked", n, "elapsed", c.now().Sub(start).String())
	if err != nil {
		c.log.Warn("revoke-prefix left leases for a retry", "prefix", prefix, "error", err.Error())
	}
	return n, leaseErr(err)
}

// leaseSecret registers the lease of a dynamic secret an engine just
// handed out. If the lease cannot be stored, the secret is revoked at
// once: a secret nobody can revoke must not leave the server.
func (c *Core) leaseSecret(ctx context.Context, st *unsealed, caller *Caller, m *mount, s *logical.Secret, path string) (*lease.Lease, error) {
	ttl, maxTTL := lease.TTLs(s.TTL, s.MaxTTL, time.Duration(m.entry.Config.DefaultLeaseTTL)*time.Second, time.Duration(m.entry.Config.MaxLeaseTTL)*time.Second, token.DefaultSystemTTL)
	l := lease.Lease{Kind: lease.KindSecret, Path: path, MountAccessor: m.entry.Accessor, Renewable: s.Renewable, InternalData: s.InternalData}
	if _, ok := m.engine.(logical.SecretRenewer); !ok {
		l.Renewable = false
	}
	if caller != nil && caller.Token != nil && caller.Token.Type != "batch" {
		// Revoking the token that asked revokes what it was given.
		l.TokenAccessor = caller.Token.Accessor
	}
	registered, err := st.leases.Register(ctx, l, ttl, maxTTL)
	if err != nil {
		l.Path = path
		if rerr := c.revokeLease(ctx, st, &l); rerr != nil {
			c.log.Error("a secret whose lease could not be stored could not be revoked either", "path", path, "error", fmt.Sprint(rerr))
		}
		return nil, fmt.Errorf("storing the lease: %w", err)
	}
	return registered, nil
}

// revokeUnrecordedLease revokes a secret whose handing out could not be
// recorded by audit.
func (c *Core) revokeUnrecordedLease(ctx context.Context, st *unsealed, l *lease.Lease) {
	if l == nil {
		return
	}
	if err := st.leases.Revoke(ctx, l.ID, false); err != nil {
		c.log.Error("revoking a secret whose issuing was not recorded", "lease_id", l.ID, "error", fmt.Sprint(err))
	}
}

// renewSecret asks the engine that issued a secret lease to extend it.
func (c *Core) renewSecret(ctx context.Context, st *unsealed, l *lease.Lease, want time.Time) (time.Time, error) {
	m := st.mountByAccessor(l.MountAccessor)
	if m == nil {
		return want, fmt.Errorf("%w: the mount that issued this lease is gone", ErrInvalidRequest)
	}
	rn, ok := m.engine.(logical.SecretRenewer)
	if !ok {
		return want, lease.ErrNotRenewable
	}
	req := &logical.Request{Operation: logical.UpdateOperation, Path: strings.TrimPrefix(l.Path, m.entry.Path), Storage: m.view, MountPoint: m.entry.Path}
	if err := rn.RenewSecret(ctx, req, l.InternalData, want); err != nil {
		return want, err
	}
	return want, nil
}
