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
	return s.revokeTreeLocked(ctx, e.Accessor)
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
	return s.deleteLocked(ctx, e.Accessor)
}

// revokeTreeLocked collects the tree under accessor, then deletes it
// leaves first, so a crash halfway leaves no child without its index.
func (s *Store) revokeTreeLocked(ctx context.Context, accessor string) error {
	order := []string{}
	stack := []string{accessor}
	for len(stack) > 0 {
		a := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		order = append(order, a)
		children, err := s.view.List(ctx, parentPrefix+a+"/")
		if err != nil {
			return fmt.Errorf("listing child tokens: %w", err)
		}
		for _, c := range children {
			stack = append(stack, strings.TrimSuffix(c, "/"))
		}
	}
	for i := len(order) - 1; i >= 0; i-- {
		if err := s.deleteLocked(ctx, order[i]); err != nil {
			return err
		}
	}
	return nil
}

// deleteLocked removes one token's entry and index keys.
func (s *Store) deleteLocked(ctx context.Context, accessor string) error {
	e, err := s.lookupAccessorLocked(ctx, accessor)
	switch {
	case errors.Is(err, ErrNotFound):
		return s.view.Delete(ctx, accessorPrefix+accessor)
	case err != nil:
		return err
	}
	if s.onRevoke != nil {
		if err := s.onRevoke(ctx, e); err != nil {
			return fmt.Errorf("cleaning up after token: %w", err)
		}
	}
	children, err := s.view.List(ctx, parentPrefix+accessor+"/")
	if err != nil {
		return err
	}
	for _, c := range children {
		if err := s.view.Delete(ctx, parentPrefix+accessor+"/"+c); err != nil {
			return err
		}
	}
	s.cache.drop(e.Hash)
	defer s.cache.drop(e.Hash)
	for _, key := range []string{idPrefix + e.Hash, accessorPrefix + accessor} {
		if err := s.view.Delete(ctx, key); err != nil {
			return err
		}
	}
	if e.Parent != "" {
		if err := s.view.Delete(ctx, parentPrefix+e.Parent+"/"+accessor); err != nil {
			return err
		}
	}
	return nil
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
// true. It scans the accessor index.
func (s *Store) revokeWhere(ctx context.Context, match func(*Entry) bool) (int, error) {
	accessors, err := s.view.List(ctx, accessorPrefix)
	if err != nil {
		return 0, err
	}
	n := 0
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range accessors {
		e, err := s.lookupAccessorLocked(ctx, a)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		if match(e) {
			if err := s.revokeTreeLocked(ctx, a); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// RevokeAccessor revokes the token an accessor names and its tree, even
// when it has expired (the expiration manager's way in).
func (s *Store) RevokeAccessor(ctx context.Context, accessor string) error {
	if accessor == "" || strings.Contains(accessor, "/") {
		return ErrNotFound
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revokeTreeLocked(ctx, accessor)
}
