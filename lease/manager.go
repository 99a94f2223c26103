package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/arca-secrets/arca/internal/stripe"
	"github.com/arca-secrets/arca/internal/tally"
	"github.com/arca-secrets/arca/storage"
)

var (
	// ErrNotFound: no such lease.
	ErrNotFound = errors.New("lease not found")
	// ErrNotRenewable: the lease cannot be renewed.
	ErrNotRenewable = errors.New("lease is not renewable")
	// ErrInvalid: a malformed lease id or prefix.
	ErrInvalid = errors.New("invalid lease id")
)

// RevokeFunc revokes what a lease stands for (the token, the database
// role). An error keeps the lease for a retry.
type RevokeFunc func(ctx context.Context, l *Lease) error

// Config is what a Manager is built from.
type Config struct {
	// Storage is the manager's own view of the barrier.
	Storage storage.Backend
	// Revoke is called to revoke a lease's secret or token.
	Revoke RevokeFunc
	// RevokeTokens, when set, revokes the tokens of token leases in
	// batches, instead of Revoke one lease at a time.
	RevokeTokens RevokeTokensFunc
	// Removed, when set, hears of every lease removed after its
	// revocation, whichever path revoked it (one lease, a prefix, a
	// token's, expiry, a batch): where change events are published.
	Removed func(*Lease)
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Manager keeps leases.
type Manager struct {
	st           storage.Backend
	revoke       RevokeFunc
	revokeTokens RevokeTokensFunc
	removed      func(*Lease)
	now          func() time.Time
	// locks serialise changes to one lease (keyed by id); other leases
	// change in parallel, so their storage writes share commits.
	locks stripe.Locks
	// flight is the token leases being revoked through RevokeTokens.
	flight inFlight
	// count is how many leases are stored.
	count tally.Count
}

// New returns a manager over cfg.Storage.
func New(cfg Config) *Manager {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Manager{st: cfg.Storage, revoke: cfg.Revoke, revokeTokens: cfg.RevokeTokens, removed: cfg.Removed, now: now}
}

func validID(id string) bool {
	return storage.ValidKey("id/"+id) && !strings.Contains(id, "..") && len(id) < 1024
}

// Register stores a new lease for path with the given TTL and returns it.
// The id is path + "/" + a random suffix.
func (m *Manager) Register(ctx context.Context, l Lease, ttl, maxTTL time.Duration) (*Lease, error) {
	nl, err := m.newLease(l, ttl, maxTTL)
	if err != nil {
		return nil, err
	}
	defer m.locks.Lock(nl.ID)()
	if err := m.save(ctx, nl, time.Time{}); err != nil {
		return nil, err
	}
	m.count.Add(1)
	return nl, nil
}

// Stage is Register with the lease's writes added to step instead of
// written: it exists once the caller commits step (with what it
// leases, such as a login's token, in the same durable step). No lock is
// needed: nobody knows the new random id until then.
func (m *Manager) Stage(step *storage.Step, l Lease, ttl, maxTTL time.Duration) (*Lease, error) {
	nl, err := m.newLease(l, ttl, maxTTL)
	if err != nil {
		return nil, err
	}
	puts, deletes, err := writes(nl, time.Time{})
	if err != nil {
		return nil, err
	}
	if err := step.Stage(m.st, puts, deletes); err != nil {
		return nil, fmt.Errorf("writing lease: %w", err)
	}
	// Counted now: a step that then fails to commit leaves the gauge one
	// high until the next restart recounts.
	m.count.Add(1)
	return nl, nil
}

// newLease gives l its id and times.
func (m *Manager) newLease(l Lease, ttl, maxTTL time.Duration) (*Lease, error) {
	suffix := make([]byte, 12)
	if _, err := rand.Read(suffix); err != nil {
		return nil, err
	}
	l.ID = strings.Trim(l.Path, "/") + "/" + hex.EncodeToString(suffix)
	if !validID(l.ID) {
		return nil, fmt.Errorf("%w: %q", ErrInvalid, l.Path)
	}
	now := m.now().UTC()
	l.IssueTime = now
	l.ExpireTime = now.Add(ttl)
	if maxTTL > 0 {
		l.MaxExpireTime = now.Add(maxTTL)
		if l.ExpireTime.After(l.MaxExpireTime) {
			l.ExpireTime = l.MaxExpireTime
		}
	}
	return &l, nil
}

// save writes the lease and its index entries, and drops its expiry index
// from old (zero: none), in one storage step. The lease's lock must be
// held.
func (m *Manager) save(ctx context.Context, l *Lease, old time.Time) error {
	puts, deletes, err := writes(l, old)
	if err != nil {
		return err
	}
	if err := storage.WriteAll(ctx, m.st, puts, deletes); err != nil {
		return fmt.Errorf("writing lease: %w", err)
	}
	return nil
}

// writes are the entries that record l, with its expiry index moved from
// old (zero: none).
func writes(l *Lease, old time.Time) (puts []*storage.Entry, deletes []string, err error) {
	raw, err := json.Marshal(l)
	if err != nil {
		return nil, nil, err
	}
	due := l.ExpireTime
	if !l.RetryAt.IsZero() {
		due = l.RetryAt
	}
	h := idHash(l.ID)
	puts = []*storage.Entry{
		{Key: "id/" + l.ID, Value: raw},
		{Key: "exp/" + bucket(due) + "/" + h, Value: []byte(l.ID)},
	}
	if l.TokenAccessor != "" {
		puts = append(puts, &storage.Entry{Key: "tok/" + l.TokenAccessor + "/" + h, Value: []byte(l.ID)})
	}
	if !old.IsZero() && bucket(old) != bucket(due) {
		deletes = append(deletes, "exp/"+bucket(old)+"/"+h)
	}
	return puts, deletes, nil
}

// Count returns how many leases are stored: id/ is counted once, then the
// count is kept by registrations and removals.
func (m *Manager) Count(ctx context.Context) (int64, error) {
	return m.count.Get(func() (int64, error) { return m.countUnder(ctx, "id/") })
}

func (m *Manager) countUnder(ctx context.Context, prefix string) (int64, error) {
	names, err := m.st.List(ctx, prefix)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, name := range names {
		if !strings.HasSuffix(name, "/") {
			n++
			continue
		}
		sub, err := m.countUnder(ctx, prefix+name)
		if err != nil {
			return 0, err
		}
		n += sub
	}
	return n, nil
}

// Lookup returns a lease.
func (m *Manager) Lookup(ctx context.Context, id string) (*Lease, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	e, err := m.st.Get(ctx, "id/"+id)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, ErrNotFound
	}
	return decode(e.Value)
}

func decode(raw []byte) (*Lease, error) {
	var l Lease
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("decoding lease: %w", err)
	}
	l.raw = raw
	return &l, nil
}

// List returns the names directly under prefix (folders end in "/").
func (m *Manager) List(ctx context.Context, prefix string) ([]string, error) {
	prefix = strings.TrimPrefix(prefix, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if strings.Contains(prefix, "..") || strings.Contains(prefix, "//") {
		return nil, ErrInvalid
	}
	return m.st.List(ctx, "id/"+prefix)
}

// Renew extends a lease by increment (capped by its maximum) and returns
// it. extend, when set, renews what the lease stands for first (the token)
// and may shorten the new expiry.
func (m *Manager) Renew(ctx context.Context, id string, increment time.Duration, extend func(*Lease, time.Time) (time.Time, error)) (*Lease, error) {
	l, err := m.Lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	now := m.now().UTC()
	if !l.Renewable {
		return nil, ErrNotRenewable
	}
	if !now.Before(l.ExpireTime) {
		return nil, ErrNotFound
	}
	if increment <= 0 {
		increment = l.ExpireTime.Sub(l.IssueTime)
	}
	exp := now.Add(increment)
	if !l.MaxExpireTime.IsZero() && exp.After(l.MaxExpireTime) {
		exp = l.MaxExpireTime
	}
	// The issuer is asked without the lease's lock: renewing a token
	// takes the token store's lock, which a token's revocation holds while
	// it takes lease locks, so holding ours here could deadlock the two.
	if extend != nil {
		if exp, err = extend(l, exp); err != nil {
			return nil, err
		}
	}
	defer m.locks.Lock(id)()
	// Revoked meanwhile: the renewal must not write the lease back.
	cur, err := m.Lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	old := cur.ExpireTime
	cur.ExpireTime, cur.LastRenewal = exp, now
	return cur, m.save(ctx, cur, old)
}

// keysOf lists a lease's key and its index keys.
func keysOf(l *Lease) []string {
	h := idHash(l.ID)
	keys := []string{"exp/" + bucket(l.ExpireTime) + "/" + h}
	if !l.RetryAt.IsZero() {
		keys = append(keys, "exp/"+bucket(l.RetryAt)+"/"+h)
	}
	if l.TokenAccessor != "" {
		keys = append(keys, "tok/"+l.TokenAccessor+"/"+h)
	}
	return append(keys, "id/"+l.ID)
}

func (m *Manager) writeAll(ctx context.Context, puts []*storage.Entry, deletes []string) error {
	return storage.WriteAll(ctx, m.st, puts, deletes)
}
