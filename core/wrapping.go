package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/token"
)

// Response wrapping: a response is stored in the cubbyhole of a new,
// single-purpose token, and the client receives only that token. Whoever
// unwraps first gets the response; a second unwrap, or one after the TTL,
// fails, so an interception is noticed.

const (
	wrappingPolicy = "response-wrapping"
	wrappedKey     = "response"
	// MaxWrapTTL bounds how long a wrapped response may wait.
	MaxWrapTTL = 24 * time.Hour
)

// ErrInvalidWrapping: the wrapping token is unknown, used or expired (400).
var ErrInvalidWrapping = errors.New("wrapping token is not valid or does not exist")

// WrapInfo describes a wrapping token.
type WrapInfo struct {
	Token           string
	Accessor        string
	TTL             time.Duration
	CreationTime    time.Time
	CreationPath    string
	WrappedAccessor string
}

// Wrap stores body (a whole JSON response) behind a new wrapping token.
func (c *Core) Wrap(ctx context.Context, body []byte, ttl time.Duration, path, wrappedAccessor string) (*WrapInfo, error) {
	st, release, err := c.enter()
	if err != nil {
		return nil, err
	}
	defer release()
	return c.wrap(ctx, st, body, ttl, path, wrappedAccessor)
}

func (c *Core) wrap(ctx context.Context, st *unsealed, body []byte, ttl time.Duration, path, wrappedAccessor string) (*WrapInfo, error) {
	if ttl <= 0 || ttl > MaxWrapTTL {
		return nil, fmt.Errorf("%w: the wrapping TTL must be between 1s and %s", ErrInvalidRequest, MaxWrapTTL)
	}
	te, err := st.tokens.Create(ctx, token.CreateRequest{
		Policies:    []string{wrappingPolicy},
		TTL:         ttl,
		DisplayName: "response-wrapping",
		Path:        path,
		Meta:        map[string]string{"wrapped_accessor": wrappedAccessor},
	})
	if err != nil {
		return nil, err
	}
	if err := c.cubbyholeView(te).Put(ctx, &storage.Entry{Key: wrappedKey, Value: body}); err != nil {
		_ = st.tokens.Revoke(ctx, te)
		return nil, err
	}
	return wrapInfo(te), nil
}

func wrapInfo(te *token.Entry) *WrapInfo {
	return &WrapInfo{
		Token: te.ID, Accessor: te.Accessor, TTL: te.TTL, CreationTime: te.CreationTime,
		CreationPath: te.Path, WrappedAccessor: te.Meta["wrapped_accessor"],
	}
}

// wrappingToken returns the entry of a live wrapping token.
func (c *Core) wrappingToken(ctx context.Context, st *unsealed, id string) (*token.Entry, error) {
	te, err := st.tokens.Lookup(ctx, id)
	if err != nil || !slices.Equal(te.Policies, []string{wrappingPolicy}) {
		return nil, ErrInvalidWrapping
	}
	return te, nil
}

// Unwrap returns the wrapped response and revokes the wrapping token, in
// one step: of two concurrent unwraps, exactly one gets the response.
func (c *Core) Unwrap(ctx context.Context, id string) ([]byte, error) {
	st, release, err := c.enter()
	if err != nil {
		return nil, err
	}
	defer release()
	c.wrapMu.Lock()
	defer c.wrapMu.Unlock()
	te, body, err := c.wrapped(ctx, st, id)
	if err != nil {
		return nil, err
	}
	if err := st.tokens.Revoke(ctx, te); err != nil {
		return nil, err
	}
	return body, nil
}

// wrapped returns a live wrapping token's entry and the response it
// holds; c.wrapMu is held.
func (c *Core) wrapped(ctx context.Context, st *unsealed, id string) (*token.Entry, []byte, error) {
	te, err := c.wrappingToken(ctx, st, id)
	if err != nil {
		return nil, nil, err
	}
	e, err := c.cubbyholeView(te).Get(ctx, wrappedKey)
	if err != nil {
		return nil, nil, err
	}
	if e == nil {
		return nil, nil, ErrInvalidWrapping
	}
	return te, e.Value, nil
}

// WrapLookup describes a wrapping token without using it.
func (c *Core) WrapLookup(ctx context.Context, id string) (*WrapInfo, error) {
	st, release, err := c.enter()
	if err != nil {
		return nil, err
	}
	defer release()
	te, err := c.wrappingToken(ctx, st, id)
	if err != nil {
		return nil, err
	}
	info := wrapInfo(te)
	info.Token = ""
	return info, nil
}

// Rewrap moves a wrapped response behind a new wrapping token with the
// same TTL and revokes the old one, in one step under one unsealed state:
// a seal cannot land between taking the response and storing it again.
// The new token is made first, so a failure leaves the old one working.
func (c *Core) Rewrap(ctx context.Context, id string) (*WrapInfo, error) {
	st, release, err := c.enter()
	if err != nil {
		return nil, err
	}
	defer release()
	c.wrapMu.Lock()
	defer c.wrapMu.Unlock()
	old, body, err := c.wrapped(ctx, st, id)
	if err != nil {
		return nil, err
	}
	info, err := c.wrap(ctx, st, body, old.TTL, old.Path, old.Meta["wrapped_accessor"])
	if err != nil {
		return nil, err
	}
	if err := st.tokens.Revoke(ctx, old); err != nil {
		return nil, err
	}
	return info, nil
}
