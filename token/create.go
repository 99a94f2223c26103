package token

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/arca-secrets/arca/storage"
)

// CreateRequest describes a token to create. The caller (core) has already
// decided that the creator may ask for it.
type CreateRequest struct {
	// ID is the token to use; empty means a new random one.
	ID string
	// Parent is the creating token; nil makes an orphan.
	Parent *Entry
	// Policies the token carries (sorted and de-duplicated here).
	Policies []string
	// TTL zero means the mount's default (MountDefaultTTL) or the system's.
	TTL             time.Duration
	ExplicitMaxTTL  time.Duration
	Period          time.Duration
	MountDefaultTTL time.Duration
	MountMaxTTL     time.Duration
	// NoExpiry makes a token that never expires (the root token from init).
	NoExpiry      bool
	NumUses       int
	Renewable     bool
	DisplayName   string
	Path          string
	Meta          map[string]string
	BoundCIDRs    []string
	Role          string
	MountAccessor string
	InternalData  map[string]string
	// Alongside, when set, is given the entry about to be stored and
	// returns writes (through views of the store's backend) that must land
	// with it in one durable step: a login's lease, so that a login costs
	// one commit and no crash leaves its token without its lease.
	Alongside func(*Entry) (*storage.Step, error)
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// IDLength is the length of the IDs NewID returns: a one-time pad that
// encodes a token (generate-root) has this length.
const IDLength = 26

// NewID returns "s." and 24 random base62 characters (about 143 bits).
func NewID() (string, error) {
	out := []byte("s.")
	buf := make([]byte, 1)
	for len(out) < IDLength {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		// Rejection sampling keeps the distribution uniform.
		if buf[0] < 248 {
			out = append(out, base62[buf[0]%62])
		}
	}
	return string(out), nil
}

// Create stores a new token and returns its entry with ID set.
func (s *Store) Create(ctx context.Context, req CreateRequest) (*Entry, error) {
	if req.NumUses < 0 {
		return nil, fmt.Errorf("%w: num_uses cannot be negative", ErrInvalid)
	}
	if req.TTL < 0 || req.ExplicitMaxTTL < 0 || req.Period < 0 {
		return nil, fmt.Errorf("%w: durations cannot be negative", ErrInvalid)
	}
	if req.Parent != nil && req.Parent.NumUses > 0 {
		return nil, fmt.Errorf("%w: a token with a use limit cannot create child tokens", ErrInvalid)
	}
	if req.Parent != nil && req.Parent.Type == "batch" {
		return nil, fmt.Errorf("%w: a batch token cannot create tokens", ErrInvalid)
	}
	id := req.ID
	if id == "" {
		var err error
		if id, err = NewID(); err != nil {
			return nil, err
		}
	} else if len(id) > 256 || len(id) < 1 {
		return nil, fmt.Errorf("%w: a token ID must be 1 to 256 characters", ErrInvalid)
	}
	accessor, err := randomHex(12)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	e := &Entry{
		ID:             id,
		Hash:           s.Hash(id),
		Accessor:       accessor,
		Policies:       normalisePolicies(req.Policies),
		Path:           req.Path,
		DisplayName:    req.DisplayName,
		Meta:           req.Meta,
		NumUses:        req.NumUses,
		CreationTime:   now,
		ExplicitMaxTTL: req.ExplicitMaxTTL,
		Period:         req.Period,
		Renewable:      req.Renewable,
		Orphan:         req.Parent == nil,
		Type:           "service",
		BoundCIDRs:     req.BoundCIDRs,
		Role:           req.Role,
		MountAccessor:  req.MountAccessor,
		InternalData:   req.InternalData,
	}
	if req.Parent != nil {
		e.Parent = req.Parent.Accessor
	}
	if !req.NoExpiry {
		s.setExpiry(e, req, now)
	} else {
		e.Renewable = false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	defer s.createLocks.Lock(e.Hash)()
	if _, err := s.getByHash(ctx, e.Hash); err == nil {
		return nil, fmt.Errorf("%w: a token with that ID exists", ErrInvalid)
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	// The entry and its indexes go in one step (one fsync on bbolt).
	writes := []*storage.Entry{
		{Key: accessorPrefix + e.Accessor, Value: []byte(e.Hash)},
		{Key: idPrefix + e.Hash, Value: raw},
	}
	if req.Parent != nil {
		// The parent may have been revoked since the caller looked it up.
		if _, err := s.getByHash(ctx, req.Parent.Hash); err != nil {
			return nil, fmt.Errorf("%w: the parent token was revoked", ErrNotFound)
		}
		writes = append(writes, &storage.Entry{Key: parentPrefix + e.Parent + "/" + e.Accessor, Value: []byte{}})
	}
	step := &storage.Step{}
	if req.Alongside != nil {
		more, err := req.Alongside(e)
		if err != nil {
			return nil, err
		}
		if more != nil {
			step = more
		}
	}
	if err := step.Stage(s.view, writes, nil); err != nil {
		return nil, err
	}
	s.cache.drop(e.Hash)
	defer s.cache.drop(e.Hash)
	if err := step.Commit(ctx); err != nil {
		return nil, err
	}
	s.count.Add(1)
	return e, nil
}

// setExpiry computes the TTL and the latest expiry: the mount's or the
// system's maximum, lowered by explicit_max_ttl, and never past a parent's
// expiry (a child cannot outlive the tree it hangs from).
func (s *Store) setExpiry(e *Entry, req CreateRequest, now time.Time) {
	maxTTL := s.maxTTL
	if req.MountMaxTTL > 0 && req.MountMaxTTL < maxTTL {
		maxTTL = req.MountMaxTTL
	}
	if req.ExplicitMaxTTL > 0 && req.ExplicitMaxTTL < maxTTL {
		maxTTL = req.ExplicitMaxTTL
	}
	ttl := req.TTL
	switch {
	case req.Period > 0:
		ttl = req.Period
		if req.ExplicitMaxTTL > 0 && ttl > req.ExplicitMaxTTL {
			ttl = req.ExplicitMaxTTL
		}
	case ttl == 0 && req.MountDefaultTTL > 0:
		ttl = req.MountDefaultTTL
	case ttl == 0:
		ttl = s.defaultTTL
	}
	if req.Period == 0 && ttl > maxTTL {
		ttl = maxTTL
	}
	e.TTL = ttl
	e.ExpireTime = now.Add(ttl)
	if req.Period == 0 || req.ExplicitMaxTTL > 0 {
		e.MaxExpireTime = now.Add(maxTTL)
	}
	if p := req.Parent; p != nil && !p.ExpireTime.IsZero() {
		if e.ExpireTime.After(p.ExpireTime) {
			e.ExpireTime = p.ExpireTime
		}
		if e.MaxExpireTime.IsZero() || e.MaxExpireTime.After(p.ExpireTime) {
			e.MaxExpireTime = p.ExpireTime
		}
	}
}

func normalisePolicies(in []string) []string {
	out := []string{}
	for _, p := range in {
		if p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// Renew extends a token's expiry by increment (or its original TTL, or
// its period), up to its maximum. It returns the updated entry.
func (s *Store) Renew(ctx context.Context, e *Entry, increment time.Duration) (*Entry, error) {
	if e.Type == "batch" {
		return nil, ErrNotRenewable
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.getByHash(ctx, e.Hash)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	if cur.Expired(now) {
		return nil, ErrNotFound
	}
	if !cur.Renewable || cur.ExpireTime.IsZero() {
		return nil, ErrNotRenewable
	}
	ttl := cur.TTL
	switch {
	case cur.Period > 0:
		ttl = cur.Period
	case increment > 0:
		ttl = increment
	}
	exp := now.Add(ttl)
	if !cur.MaxExpireTime.IsZero() && exp.After(cur.MaxExpireTime) {
		exp = cur.MaxExpireTime
	}
	if cur.Parent != "" {
		if p, err := s.lookupAccessorLocked(ctx, cur.Parent); err == nil && !p.ExpireTime.IsZero() && exp.After(p.ExpireTime) {
			exp = p.ExpireTime
		}
	}
	cur.ExpireTime = exp
	if err := s.put(ctx, cur); err != nil {
		return nil, err
	}
	cur.ID = e.ID
	return cur, nil
}
