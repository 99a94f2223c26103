package token

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

func (s *Store) lookupAccessorLocked(ctx context.Context, accessor string) (*Entry, error) {
	raw, err := s.view.Get(ctx, accessorPrefix+accessor)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, ErrNotFound
	}
	return s.getByHash(ctx, string(raw.Value))
}

// Revoke revokes a token and every token below it.
func (s *Store) Revoke(ctx context.Context, e *Entry) error {
	if e.Type == "batch" {
		return fmt.Errorf("%w: batch tokens cannot be revoked; they expire", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.revokeTreesLocked(ctx, []string{e.Accessor})...)
}

// RevokeOrphan revokes a token alone; its children become orphans.
func (s *Store) RevokeOrphan(ctx context.Context, e *Entry) error {
	if e.Type == "batch" {
		return fmt.Errorf("%w: batch tokens cannot be revoked; they expire", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	children, err := s.view.List(ctx, parentPrefix+e.Accessor+"/")
	if err != nil {
		return err
	}
	for _, c := range children {
		child, err := s.lookupAccessorLocked(ctx, c)
		if err == nil {
			child.Parent, child.Orphan = "", true
			if err := s.put(ctx, child); err != nil {
				return err
			}
		}
		if err := s.view.Delete(ctx, parentPrefix+e.Accessor+"/"+c); err != nil {
			return err
		}
	}
	return errors.Join(s.revokeTreesLocked(ctx, []string{e.Accessor})...)
}

// RevokeByMount revokes every token issued through the auth mount with
// the given accessor (when the mount is disabled).
func (s *Store) RevokeByMount(ctx context.Context, mountAccessor string) (int, error) {
	s.revokedMounts.Store(mountAccessor, true)
	return s.revokeWhere(ctx, func(e *Entry) bool { return e.MountAccessor == mountAccessor })
}

// Tidy removes expired tokens (and their subtrees) and returns how many.
func (s *Store) Tidy(ctx context.Context) (int, error) {
	now := s.now()
	return s.revokeWhere(ctx, func(e *Entry) bool { return e.Expired(now) })
}

// revokeWhere revokes every token (with its subtree) for which match is
// true, in batches. It scans the accessor index.
func (s *Store) revokeWhere(ctx context.Context, match func(*Entry) bool) (int, error) {
	accessors, err := s.view.List(ctx, accessorPrefix)
	if err != nil {
		return 0, err
	}
	n := 0
	s.mu.Lock()
	defer s.mu.Unlock()
	var batch []string
	var errs []error
	flush := func() {
		for _, err := range s.revokeTreesLocked(ctx, batch) {
			if err != nil {
				errs = append(errs, err)
			} else {
				n++
			}
		}
		batch = batch[:0]
	}
	for _, a := range accessors {
		e, err := s.lookupAccessorLocked(ctx, a)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		if match(e) {
			if batch = append(batch, a); len(batch) == revokeBatch {
				flush()
			}
		}
	}
	flush()
	return n, errors.Join(errs...)
}

// RevokeAccessor revokes the token an accessor names and its tree, even
// when it has expired (the expiration manager's way in).
func (s *Store) RevokeAccessor(ctx context.Context, accessor string) error {
	if accessor == "" || strings.Contains(accessor, "/") {
		return ErrNotFound
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.revokeTreesLocked(ctx, []string{accessor})...)
}

// RevokeAccessors revokes the tokens the accessors name, each with its
// tree, even when expired, in batches; it returns one error per accessor
// (nil when its whole tree is revoked; a token already gone is no error).
func (s *Store) RevokeAccessors(ctx context.Context, accessors []string) []error {
	errs := make([]error, len(accessors))
	// An accessor that cannot name a token (empty, a path) has nothing to
	// revoke, as RevokeAccessor says.
	valid := make([]string, 0, len(accessors))
	for _, a := range accessors {
		if a != "" && !strings.Contains(a, "/") {
			valid = append(valid, a)
		}
	}
	if len(valid) < len(accessors) {
		at := 0
		sub := s.RevokeAccessors(ctx, valid)
		for i, a := range accessors {
			if a != "" && !strings.Contains(a, "/") {
				errs[i] = sub[at]
				at++
			}
		}
		return errs
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for start := 0; start < len(accessors); start += revokeBatch {
		end := min(start+revokeBatch, len(accessors))
		copy(errs[start:end], s.revokeTreesLocked(ctx, accessors[start:end]))
	}
	return errs
}
