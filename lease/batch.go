package lease

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
)

// batchSize is how many leases are revoked together: their issuers are
// called, then every lease whose revocation succeeded is removed in one
// storage step (one transaction and one fsync on bbolt), instead of one
// step per lease.
const batchSize = 32768

// issuers is how many issuers' revocations of single leases (a database
// engine's DROP ROLE) run at once when there is no RevokeMany.
const issuers = 8

// RevokeTokensFunc revokes the tokens with the given accessors at once
// (one token-store batch instead of a step per token) and returns one
// error per accessor, nil where the token is revoked or already gone.
type RevokeTokensFunc func(ctx context.Context, accessors []string) []error

// issue calls the issuers of ls, except for the leases skip names, and
// returns one error per lease of ls. Token leases go to RevokeTokens as
// one batch when it is set; the others to Revoke, issuers at a time.
func (m *Manager) issue(ctx context.Context, ls []*Lease, skip func(*Lease) bool) []error {
	errs := make([]error, len(ls))
	var one []*Lease
	var oneAt, tokAt []int
	var accs []string
	for i, l := range ls {
		switch {
		case skip != nil && skip(l):
		case l.Kind == KindToken && m.revokeTokens != nil:
			accs = append(accs, l.TokenAccessor)
			tokAt = append(tokAt, i)
		case m.revoke != nil:
			one = append(one, l)
			oneAt = append(oneAt, i)
		}
	}
	if len(accs) > 0 {
		m.markInFlight(ls, tokAt)
		defer m.clearInFlight(ls, tokAt)
		res := m.revokeTokens(ctx, accs)
		for j, i := range tokAt {
			if j < len(res) {
				errs[i] = res[j]
			} else {
				errs[i] = fmt.Errorf("no answer from the token store for %s", ls[i].ID)
			}
		}
	}
	if len(one) > 0 {
		for j, err := range eachAtOnce(ctx, one, m.revoke) {
			errs[oneAt[j]] = err
		}
	}
	return errs
}

// eachAtOnce runs revoke for every lease, issuers at a time.
func eachAtOnce(ctx context.Context, ls []*Lease, revoke RevokeFunc) []error {
	errs := make([]error, len(ls))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(issuers, len(ls)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = revoke(ctx, ls[i])
			}
		}()
	}
	for i := range ls {
		next <- i
	}
	close(next)
	wg.Wait()
	return errs
}

// revokeLeases revokes ls: the issuers first (none for the leases skip
// names), then the removal, in one storage step, of every lease whose
// revocation succeeded. A lease is never removed before its issuer said
// yes, so a crash in between leaves the lease, which is revoked again
// later (revocations are idempotent). Leases whose issuer failed are
// kept with a retry scheduled. It returns how many were revoked, and an
// error (wrapping ErrRetry) per lease kept.
func (m *Manager) revokeLeases(ctx context.Context, ls []*Lease, skip func(*Lease) bool) (int, []error) {
	r := remover{m: m, ctx: ctx}
	r.add(m.issueAll(ctx, ls, skip, &r.errs))
	r.wait()
	return r.removed, r.errs
}

// issueAll calls the issuers of ls, records a retry for each that failed
// (its error appended to errs) and returns the leases to remove.
func (m *Manager) issueAll(ctx context.Context, ls []*Lease, skip func(*Lease) bool, errs *[]error) []*Lease {
	issued := m.issue(ctx, ls, skip)
	var gone []*Lease
	for i, l := range ls {
		if issued[i] == nil {
			gone = append(gone, l)
			continue
		}
		if err := m.keepForRetry(ctx, l.ID, issued[i]); err != nil {
			*errs = append(*errs, err)
		}
	}
	return gone
}

// remover removes revoked leases one batch behind their revocation: a
// batch's storage step (an fsync) runs while the next batch is read and
// revoked, and on bbolt the two batches' steps may share a commit.
type remover struct {
	m       *Manager
	ctx     context.Context
	done    chan error
	pending int
	removed int
	errs    []error
	// progress, when set, hears the running total after each removal.
	progress Progress
}

// add waits for the removal in progress, then starts removing gone.
func (r *remover) add(gone []*Lease) {
	r.wait()
	if len(gone) == 0 {
		return
	}
	done := make(chan error, 1)
	go func() { done <- r.m.removeAll(r.ctx, gone) }()
	r.done, r.pending = done, len(gone)
}

// wait waits for the removal in progress, if any.
func (r *remover) wait() {
	if r.done == nil {
		return
	}
	if err := <-r.done; err != nil {
		r.errs = append(r.errs, fmt.Errorf("removing revoked leases: %w", err))
	} else {
		r.removed += r.pending
	}
	r.done, r.pending = nil, 0
	if r.progress != nil {
		r.progress(r.removed)
	}
}

// removeAll deletes the leases and their index keys in one storage step,
// holding every one's lock, so that a renewal cannot write a lease back
// between its removal being decided and done. Each lease is read again
// under its lock: the keys removed are those of the lease as stored (a
// renewal may have moved its expiry), and a lease already gone costs
// nothing.
func (m *Manager) removeAll(ctx context.Context, ls []*Lease) error {
	if len(ls) == 0 {
		return nil
	}
	ids := make([]string, len(ls))
	for i, l := range ls {
		ids[i] = l.ID
	}
	defer m.locks.LockMany(ids)()
	var keys []string
	var found []*Lease
	for i := range ids {
		cur, err := m.current(ctx, ls[i])
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		keys = append(keys, keysOf(cur)...)
		found = append(found, cur)
	}
	if len(keys) == 0 {
		return nil
	}
	if err := m.writeAll(ctx, nil, keys); err != nil {
		return err
	}
	m.count.Add(-int64(len(found)))
	if m.removed != nil {
		for _, l := range found {
			m.removed(l)
		}
	}
	return nil
}

// current returns l as stored now: l itself when its stored bytes are
// those it was read from (no decoding), ErrNotFound when it is gone.
func (m *Manager) current(ctx context.Context, l *Lease) (*Lease, error) {
	e, err := m.st.Get(ctx, "id/"+l.ID)
	switch {
	case err != nil:
		return nil, err
	case e == nil:
		return nil, ErrNotFound
	case l.raw != nil && bytes.Equal(e.Value, l.raw):
		return l, nil
	}
	return decode(e.Value)
}

// keepForRetry records a failed revocation of id: one more attempt, and
// the next one due after the backoff. The error wraps ErrRetry; nil means
// the lease was revoked meanwhile by someone else.
func (m *Manager) keepForRetry(ctx context.Context, id string, cause error) error {
	defer m.locks.Lock(id)()
	cur, err := m.Lookup(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return errors.Join(cause, err)
	}
	old := cur.RetryAt
	if old.IsZero() {
		old = cur.ExpireTime
	}
	cur.Attempts++
	cur.RetryAt = m.now().UTC().Add(backoff(cur.Attempts))
	if err := m.save(ctx, cur, old); err != nil {
		return errors.Join(cause, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrRetry, id, cause)
}

// lookupAll reads the leases ids name, leaving out those already gone.
func (m *Manager) lookupAll(ctx context.Context, ids []string) ([]*Lease, error) {
	ls := make([]*Lease, 0, len(ids))
	for _, id := range ids {
		l, err := m.Lookup(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return ls, err
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// inFlight is the token leases whose tokens the manager is revoking now,
// by token accessor. While the token store revokes those tokens, it asks
// back for the tokens' other leases (RevokeByTokens) and to drop their own
// (DropTokenLeases); the manager removes these itself once the token
// store answers, so both may pass over them without reading them.
type inFlight struct {
	mu  sync.Mutex
	ids map[string]string // token accessor -> lease id
}

func (m *Manager) markInFlight(ls []*Lease, at []int) {
	m.flight.mu.Lock()
	defer m.flight.mu.Unlock()
	if m.flight.ids == nil {
		m.flight.ids = map[string]string{}
	}
	for _, i := range at {
		m.flight.ids[ls[i].TokenAccessor] = ls[i].ID
	}
}

func (m *Manager) clearInFlight(ls []*Lease, at []int) {
	m.flight.mu.Lock()
	defer m.flight.mu.Unlock()
	for _, i := range at {
		if m.flight.ids[ls[i].TokenAccessor] == ls[i].ID {
			delete(m.flight.ids, ls[i].TokenAccessor)
		}
	}
}

// inFlightLease returns the lease of the token with accessor that the
// manager is revoking now, if any.
func (m *Manager) inFlightLease(accessor string) string {
	m.flight.mu.Lock()
	defer m.flight.mu.Unlock()
	return m.flight.ids[accessor]
}
