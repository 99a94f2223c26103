package lease

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
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
	var cause error
	if !force && m.revoke != nil {
		cause = m.revoke(ctx, l)
	}
	defer m.locks.Lock(id)()
	if cause == nil {
		return m.remove(ctx, l)
	}
	cur, err := m.Lookup(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil // revoked meanwhile by someone else
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

// RevokePrefix revokes every lease under prefix and returns how many were
// revoked. With force, issuers are not called (for a backend that can no
// longer revoke). Listing runs beside revocation; failures leave their
// leases for a retry and are reported with ErrRetry.
func (m *Manager) RevokePrefix(ctx context.Context, prefix string, force bool) (int, error) {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" || strings.Contains(prefix, "..") || strings.Contains(prefix, "//") {
		return 0, fmt.Errorf("%w: a prefix is required", ErrInvalid)
	}
	ids := make(chan string, 1024)
	var listErr error
	go func() {
		defer close(ids)
		listErr = m.walk(ctx, prefix+"/", ids)
		if e, err := m.st.Get(ctx, "id/"+prefix); err == nil && e != nil {
			ids <- prefix // the prefix is itself a lease id
		}
	}()
	var done, failed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				err := m.Revoke(ctx, id, force)
				switch {
				case err == nil:
					done.Add(1)
				case errors.Is(err, ErrNotFound):
				default:
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if listErr != nil {
		return int(done.Load()), listErr
	}
	if n := failed.Load(); n > 0 {
		return int(done.Load()), fmt.Errorf("%w: %d leases under %s", ErrRetry, n, prefix)
	}
	return int(done.Load()), nil
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

// RevokeByToken revokes the leases a token created (when it is revoked).
func (m *Manager) RevokeByToken(ctx context.Context, tokenAccessor string, skipTokenLeases bool) error {
	if tokenAccessor == "" || strings.Contains(tokenAccessor, "/") {
		return nil
	}
	names, err := m.st.List(ctx, "tok/"+tokenAccessor+"/")
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range names {
		e, err := m.st.Get(ctx, "tok/"+tokenAccessor+"/"+h)
		if err != nil || e == nil {
			continue
		}
		id := string(e.Value)
		l, err := m.Lookup(ctx, id)
		if errors.Is(err, ErrNotFound) {
			_ = m.st.Delete(ctx, "tok/"+tokenAccessor+"/"+h)
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// The token's own lease goes without calling back: the token is
		// being revoked already.
		force := skipTokenLeases && l.Kind == KindToken
		if err := m.Revoke(ctx, id, force); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ExpireDue revokes the leases due by now (expired, or due a retry),
// reading only the time buckets up to now. It returns how many it revoked.
func (m *Manager) ExpireDue(ctx context.Context) (int, error) {
	now := m.now().UTC()
	buckets, err := m.st.List(ctx, "exp/")
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
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
			revoked, err := m.expireOne(ctx, b, h, now)
			if err != nil {
				errs = append(errs, err)
			}
			if revoked {
				n++
			}
		}
	}
	return n, errors.Join(errs...)
}

func (m *Manager) expireOne(ctx context.Context, b, h string, now time.Time) (bool, error) {
	id, due, err := m.dueLease(ctx, b, h, now)
	if err != nil || id == "" || !due {
		return false, err
	}
	if err := m.Revoke(ctx, id, false); err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	return true, nil
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
