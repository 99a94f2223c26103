package lease

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrRetry: some revocations failed; their leases stay and are retried.
var ErrRetry = errors.New("revocation failed and will be retried")

// Revoke revokes one lease: the issuer is called (unless force), then the
// lease is deleted. When the issuer fails, the lease is kept for a retry
// with backoff and the error wraps ErrRetry. No lock is held while the
// issuer runs, so it may itself revoke leases (a token revoking the
// leases it created).
func (m *Manager) Revoke(ctx context.Context, id string, force bool) error {
	l, err := m.Lookup(ctx, id)
	if err != nil {
		return err
	}
	_, errs := m.revokeLeases(ctx, []*Lease{l}, skipIf(force))
	return errors.Join(errs...)
}

// skipIf is the issuers to skip: all of them with force, none otherwise.
func skipIf(force bool) func(*Lease) bool {
	if !force {
		return nil
	}
	return func(*Lease) bool { return true }
}

// Progress is told how many leases a long revocation has revoked so far.
type Progress func(revoked int)

// RevokePrefix revokes every lease under prefix and returns how many were
// revoked. With force, issuers are not called (for a backend that can no
// longer revoke). Leases go in batches (see revokeLeases), listed beside
// their revocation; progress, when set, hears after each batch. Failures
// leave their leases for a retry and are reported with ErrRetry.
func (m *Manager) RevokePrefix(ctx context.Context, prefix string, force bool, progress Progress) (int, error) {
	if err := CheckPrefix(prefix); err != nil {
		return 0, err
	}
	prefix = strings.Trim(prefix, "/")
	ids := make(chan string, batchSize)
	var listErr error
	go func() {
		defer close(ids)
		listErr = m.walk(ctx, prefix+"/", ids)
		if e, err := m.st.Get(ctx, "id/"+prefix); err == nil && e != nil {
			ids <- prefix // the prefix is itself a lease id
		}
	}()
	// Three stages run side by side: the walk lists ids, the reader reads
	// a batch of leases while the previous batch is revoked, and the
	// remover removes a batch while the next is revoked.
	batches := make(chan []*Lease, 1)
	var lookErr error
	go func() {
		defer close(batches)
		batch := make([]string, 0, batchSize)
		read := func() {
			ls, err := m.lookupAll(ctx, batch)
			if err != nil && lookErr == nil {
				lookErr = err
			}
			batch = make([]string, 0, batchSize)
			batches <- ls
		}
		for id := range ids {
			if batch = append(batch, id); len(batch) == batchSize {
				read()
			}
		}
		read()
	}()
	r := remover{m: m, ctx: ctx, progress: progress}
	for ls := range batches {
		r.add(m.issueAll(ctx, ls, skipIf(force), &r.errs))
	}
	r.wait()
	if err := errors.Join(listErr, lookErr); err != nil {
		return r.removed, err
	}
	if len(r.errs) > 0 {
		return r.removed, fmt.Errorf("%w: %d leases under %s: %w", ErrRetry, len(r.errs), prefix, r.errs[0])
	}
	return r.removed, nil
}

// CheckPrefix says whether prefix names a part of the lease tree that
// revoke-prefix may revoke: not empty, no "..", no empty segment.
func CheckPrefix(prefix string) error {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" || strings.Contains(prefix, "..") || strings.Contains(prefix, "//") {
		return fmt.Errorf("%w: a prefix is required", ErrInvalid)
	}
	return nil
}

// walk sends every lease id under prefix (which ends in "/").
func (m *Manager) walk(ctx context.Context, prefix string, out chan<- string) error {
	names, err := m.st.List(ctx, "id/"+prefix)
	if err != nil {
		return err
	}
	for _, n := range names {
		if strings.HasSuffix(n, "/") {
			if err := m.walk(ctx, prefix+n, out); err != nil {
				return err
			}
			continue
		}
		select {
		case out <- prefix + n:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// RevokeByTokens revokes the secret leases the tokens with the given
// accessors created (when the tokens are revoked), in batches, and
// returns one error per accessor: nil when every lease it created is
// revoked, an error wrapping ErrRetry when some are kept for a retry. A
// token's own lease (KindToken) is left: it stands for the token, and
// goes with DropTokenLeases once the token is gone.
func (m *Manager) RevokeByTokens(ctx context.Context, accessors []string) []error {
	errs := make([]error, len(accessors))
	owner := map[string]int{} // lease id -> index in accessors
	var ls []*Lease
	for i, acc := range accessors {
		found, err := m.leasesOf(ctx, acc, KindSecret)
		if err != nil {
			errs[i] = err
			continue
		}
		for _, l := range found {
			owner[l.ID] = i
		}
		ls = append(ls, found...)
	}
	for len(ls) > 0 {
		chunk := ls[:min(batchSize, len(ls))]
		ls = ls[len(chunk):]
		issued := m.issue(ctx, chunk, nil)
		var gone []*Lease
		for j, l := range chunk {
			if issued[j] == nil {
				gone = append(gone, l)
				continue
			}
			if err := m.keepForRetry(ctx, l.ID, issued[j]); err != nil {
				i := owner[l.ID]
				errs[i] = errors.Join(errs[i], err)
			}
		}
		if err := m.removeAll(ctx, gone); err != nil {
			for _, l := range gone {
				i := owner[l.ID]
				errs[i] = errors.Join(errs[i], err)
			}
		}
	}
	return errs
}

// DropTokenLeases removes the leases that stand for the given tokens
// (KindToken), without calling back: the tokens are gone already.
func (m *Manager) DropTokenLeases(ctx context.Context, accessors []string) error {
	var ls []*Lease
	for _, acc := range accessors {
		if m.inFlightLease(acc) != "" {
			continue // the manager removes it once the token is revoked
		}
		found, err := m.leasesOf(ctx, acc, KindToken)
		if err != nil {
			return err
		}
		ls = append(ls, found...)
	}
	for len(ls) > 0 {
		chunk := ls[:min(batchSize, len(ls))]
		ls = ls[len(chunk):]
		if err := m.removeAll(ctx, chunk); err != nil {
			return err
		}
	}
	return nil
}

// leasesOf returns the leases of the given kind created by the token with
// accessor, through the tok/ index.
func (m *Manager) leasesOf(ctx context.Context, accessor string, kind Kind) ([]*Lease, error) {
	if accessor == "" || strings.Contains(accessor, "/") {
		return nil, nil
	}
	names, err := m.st.List(ctx, "tok/"+accessor+"/")
	if err != nil {
		return nil, err
	}
	var out []*Lease
	skip := ""
	if id := m.inFlightLease(accessor); id != "" {
		skip = idHash(id)
	}
	for _, h := range names {
		if h == skip {
			continue // the token's own lease, being revoked by the manager
		}
		e, err := m.st.Get(ctx, "tok/"+accessor+"/"+h)
		if err != nil {
			return nil, err
		}
		if e == nil {
			continue
		}
		l, err := m.Lookup(ctx, string(e.Value))
		if errors.Is(err, ErrNotFound) {
			// A stale index entry; it names nothing to revoke.
			_ = m.st.Delete(ctx, "tok/"+accessor+"/"+h)
			continue
		}
		if err != nil {
			return nil, err
		}
		if l.Kind == kind {
			out = append(out, l)
		}
	}
	return out, nil
}

// ExpireDue revokes the leases due by now (expired, or due a retry),
// reading only the time buckets up to now, in batches. It returns how
// many it revoked.
func (m *Manager) ExpireDue(ctx context.Context) (int, error) {
	now := m.now().UTC()
	buckets, err := m.st.List(ctx, "exp/")
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	var due []string
	flush := func() {
		ls, err := m.lookupAll(ctx, due)
		if err != nil {
			errs = append(errs, err)
		}
		due = due[:0]
		done, failed := m.revokeLeases(ctx, ls, nil)
		n += done
		errs = append(errs, failed...)
	}
	for _, b := range buckets {
		b = strings.TrimSuffix(b, "/")
		if b > bucket(now) {
			break // buckets are sorted: the rest are in the future
		}
		hashes, err := m.st.List(ctx, "exp/"+b+"/")
		if err != nil {
			return n, err
		}
		for _, h := range hashes {
			id, isDue, err := m.dueLease(ctx, b, h, now)
			if err != nil {
				errs = append(errs, err)
			}
			if id == "" || !isDue {
				continue
			}
			if due = append(due, id); len(due) == batchSize {
				flush()
			}
		}
	}
	flush()
	return n, errors.Join(errs...)
}

// dueLease reads an index entry: the lease id, and whether it is due now.
// Stale entries (the lease was renewed, rescheduled or removed) are
// deleted.
func (m *Manager) dueLease(ctx context.Context, b, h string, now time.Time) (string, bool, error) {
	key := "exp/" + b + "/" + h
	e, err := m.st.Get(ctx, key)
	if err != nil || e == nil {
		return "", false, err
	}
	// The entry names the lease; under its lock, the entry and the lease
	// cannot change while they are compared.
	id := string(e.Value)
	defer m.locks.Lock(id)()
	if e, err = m.st.Get(ctx, key); err != nil || e == nil || string(e.Value) != id {
		return "", false, err
	}
	l, err := m.Lookup(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return "", false, m.st.Delete(ctx, key)
	}
	if err != nil {
		return "", false, err
	}
	due := l.ExpireTime
	if !l.RetryAt.IsZero() {
		due = l.RetryAt
	}
	if bucket(due) != b {
		return "", false, m.st.Delete(ctx, key)
	}
	return l.ID, !due.After(now), nil
}
