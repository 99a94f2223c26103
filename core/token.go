package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"

	"github.com/arca-secrets/arca/auth/tokenauth"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/token"
)

// tokenStorePrefix is the token store's view inside the barrier, and
// tokenRolePrefix the token roles'.
const (
	tokenStorePrefix = "sys/token/"
	tokenRolePrefix  = "sys/token-roles/"
)

// openTokenAPI is the token auth method over st's token store.
func (c *Core) openTokenAPI(st *unsealed) *tokenauth.Engine {
	return tokenauth.New(tokenauth.Config{
		Store:           st.tokens,
		Roles:           storage.NewView(c.barrier, tokenRolePrefix),
		LoginStillValid: func(ctx context.Context, te *token.Entry) error { return c.checkLoginStillValid(ctx, st, te) },
		Now:             c.now,
		Logger:          c.log,
	})
}

func (c *Core) openTokens(ctx context.Context, st *unsealed) (*token.Store, error) {
	return token.Open(ctx, token.Config{
		Storage:      storage.NewView(c.barrier, tokenStorePrefix),
		Now:          c.now,
		BeforeRevoke: func(ctx context.Context, es []*token.Entry) []error { return c.beforeTokensRevoke(ctx, st, es) },
		AfterRevoke: func(ctx context.Context, es []*token.Entry) error {
			if st.leases == nil {
				return nil
			}
			return st.leases.DropTokenLeases(ctx, accessorsOf(es))
		},
	})
}

// createRootToken makes a root token (id empty: a random one).
func createRootToken(ctx context.Context, ts *token.Store, id string) (string, error) {
	e, err := ts.Create(ctx, token.CreateRequest{
		ID:          id,
		Policies:    []string{"root"},
		NoExpiry:    true,
		DisplayName: "root",
		Path:        "auth/token/root",
	})
	if err != nil {
		return "", err
	}
	return e.ID, nil
}

// randomID returns a random UUID (version 4) string.
func randomID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// lookupToken returns the entry of a live token or ErrPermissionDenied.
func (st *unsealed) lookupToken(ctx context.Context, id string) (*token.Entry, error) {
	e, err := st.tokens.Lookup(ctx, id)
	if errors.Is(err, token.ErrNotFound) {
		return nil, ErrPermissionDenied
	}
	return e, err
}

// CheckToken returns the entry for a live token, or ErrPermissionDenied.
func (c *Core) CheckToken(ctx context.Context, id string) (*token.Entry, error) {
	st, release, err := c.enter()
	if err != nil {
		return nil, err
	}
	defer release()
	return st.lookupToken(ctx, id)
}

// beforeTokensRevoke revokes what a batch of tokens owns before they go:
// the secret leases they created and their cubbyholes, and ends their
// event subscriptions. A token whose leases cannot all be revoked stays
// (its error), and is tried again.
func (c *Core) beforeTokensRevoke(ctx context.Context, st *unsealed, es []*token.Entry) []error {
	for _, e := range es {
		c.events.RevokeToken(e.Accessor) // its subscriptions end with it
	}
	errs := make([]error, len(es))
	if st.leases != nil {
		errs = st.leases.RevokeByTokens(ctx, accessorsOf(es))
	}
	for i, e := range es {
		if errs[i] == nil {
			errs[i] = c.dropCubbyhole(ctx, e)
		}
		if errs[i] == nil {
			c.events.RevokeToken(e.Accessor) // its subscriptions end with it
		}
	}
	return errs
}

func accessorsOf(es []*token.Entry) []string {
	accs := make([]string, len(es))
	for i, e := range es {
		accs[i] = e.Accessor
	}
	return accs
}

// LookupAccessor returns the entry an accessor names.
func (c *Core) LookupAccessor(ctx context.Context, accessor string) (*token.Entry, error) {
	st, release, err := c.enter()
	if err != nil {
		return nil, err
	}
	defer release()
	e, err := st.tokens.LookupAccessor(ctx, accessor)
	if errors.Is(err, token.ErrNotFound) {
		return nil, ErrPermissionDenied
	}
	return e, err
}

// checkLoginStillValid asks the auth method that issued te, if it can,
// whether the login behind it still holds (the user still exists).
func (c *Core) checkLoginStillValid(ctx context.Context, st *unsealed, te *token.Entry) error {
	if te.MountAccessor == "" {
		return nil
	}
	st.router.mu.RLock()
	var m *mount
	for _, cand := range st.router.mounts {
		if cand.entry.Accessor == te.MountAccessor {
			m = cand
		}
	}
	st.router.mu.RUnlock()
	if m == nil {
		return logical.Errorf(logical.ErrPermissionDenied, "the auth method that issued this token is gone")
	}
	rn, ok := m.engine.(logical.Renewer)
	if !ok {
		return nil
	}
	_, err := rn.RenewAuth(ctx, &logical.Request{Operation: logical.UpdateOperation, Storage: m.view, MountPoint: m.entry.Path},
		&logical.Auth{Policies: te.Policies, InternalData: te.InternalData, Metadata: te.Meta})
	return err
}
