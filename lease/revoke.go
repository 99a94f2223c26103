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
// with backoff and the error wraps ErrRetry.
func (m *Manager) Revoke(ctx context.Context, id string, force bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, err := m.Lookup(ctx, id)
	if err != nil {
		return err
	}
	return m.revokeLocked(ctx, l, force)
}

func (m *Manager) revokeLocked(ctx context.Context, l *Lease, force bool) error {
	if !force && m.revoke != nil {
		if err := m.revoke(ctx, l); err != nil {
			old := l.RetryAt
			if old.IsZero() {
				old = l.ExpireTime
			}
			l.Attempts++
			l.RetryAt = m.now().UTC().Add(backoff(l.Attempts))
			if serr := m.save(ctx, l, old); serr != nil {
				return errors.Join(err, serr)
			}
			return fmt.Errorf("%w: %s: %w", ErrRetry, l.ID, err)
		}
	}
	return m.remove(ctx, l)
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
	m.mu.Lock()
	defer m.mu.Unlock()
	key := "exp/" + b + "/" + h
	e, err := m.st.Get(ctx, key)
	if err != nil || e == nil {
		return false, err
	}
	l, err := m.Lookup(ctx, string(e.Value))
	if errors.Is(err, ErrNotFound) {
		return false, m.st.Delete(ctx, key) // a stale index entry
	}
	if err != nil {
		return false, err
	}
	due := l.ExpireTime
	if !l.RetryAt.IsZero() {
		due = l.RetryAt
	}
	if bucket(due) != b {
		return false, m.st.Delete(ctx, key) // renewed or rescheduled
	}
	if due.After(now) {
		return false, nil // later this minute
	}
	if err := m.revokeLocked(ctx, l, false); err != nil {
		return false, err
	}
	return true, nil
}
