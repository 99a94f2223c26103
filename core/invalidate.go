package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/arca-secrets/arca/core/audittable"
	"github.com/arca-secrets/arca/logical"
)

// Invalidate refreshes whatever this core holds in memory for a storage
// key (a key inside the barrier, such as "sys/mounts" or
// "sys/policy/ops") that changed without this core writing it: a Raft
// follower applying the leader's log, or a node told so any other way.
// It is the one path by which every in-memory view of stored state is
// refreshed:
//
//   - sys/mounts: the mount and auth tables (engines started and stopped)
//   - sys/policy/*: parsed policies and compiled ACLs
//   - sys/token/*: the token store's decoded entries
//   - sys/audit-table: the audit devices enabled through the API
//   - logical/<uuid>/...: the engine of that mount, if it caches
//     (logical.Invalidator)
//
// Everything else (token roles, password policies, leases, the keyring's
// readers) is read from storage on each use. A sealed core holds nothing
// and ignores the call. Failures to reload are returned; the old view is
// kept.
func (c *Core) Invalidate(ctx context.Context, key string) error {
	st, release, err := c.enter()
	if err != nil {
		return nil
	}
	defer release()
	switch {
	case key == mountTablePath:
		return c.reloadMounts(ctx, st)
	case strings.HasPrefix(key, policyPrefix):
		c.policies.reset()
	case strings.HasPrefix(key, tokenStorePrefix):
		st.tokens.Invalidate(strings.TrimPrefix(key, tokenStorePrefix))
	case key == audittable.TablePath:
		return c.auditTable.Reload(ctx)
	case strings.HasPrefix(key, mountDataRoot):
		uuid, rel, _ := strings.Cut(strings.TrimPrefix(key, mountDataRoot), "/")
		if m := st.mountByUUID(uuid); m != nil {
			if inv, ok := m.engine.(logical.Invalidator); ok {
				inv.Invalidate(ctx, rel)
			}
		}
	}
	return nil
}

// InvalidateAll refreshes every in-memory view, for when everything may
// have changed at once (a raft node restored a snapshot).
func (c *Core) InvalidateAll(ctx context.Context) error {
	st, release, err := c.enter()
	if err != nil {
		return nil
	}
	defer release()
	c.policies.reset()
	st.tokens.InvalidateAll()
	st.router.mu.RLock()
	var cachers []logical.Invalidator
	for _, m := range st.router.mounts {
		if inv, ok := m.engine.(logical.Invalidator); ok {
			cachers = append(cachers, inv)
		}
	}
	st.router.mu.RUnlock()
	for _, inv := range cachers {
		inv.Invalidate(ctx, "")
	}
	return errors.Join(c.reloadMounts(ctx, st), c.auditTable.Reload(ctx))
}

func (st *unsealed) mountByUUID(uuid string) *mount {
	st.router.mu.RLock()
	defer st.router.mu.RUnlock()
	for _, m := range st.router.mounts {
		if m.entry.UUID == uuid {
			return m
		}
	}
	return nil
}

// reloadMounts brings the router in line with the stored mount table:
// new mounts are started, removed ones closed, tuned ones updated.
func (c *Core) reloadMounts(ctx context.Context, st *unsealed) error {
	e, err := c.barrier.Get(ctx, mountTablePath)
	if err != nil {
		return fmt.Errorf("reading mount table: %w", err)
	}
	var entries []MountEntry
	if e != nil {
		if err := json.Unmarshal(e.Value, &entries); err != nil {
			return fmt.Errorf("decoding mount table: %w", err)
		}
	}
	r := st.router
	r.mu.Lock()
	defer r.mu.Unlock()
	stored := map[string]bool{}
	for _, me := range entries {
		stored[me.Path] = true
		if m, ok := r.mounts[me.Path]; ok && m.entry.UUID == me.UUID {
			m.entry = me
			continue
		}
		if old, ok := r.mounts[me.Path]; ok {
			closeEngine(old)
		}
		m, err := c.startMount(ctx, st, me)
		if err != nil {
			return fmt.Errorf("starting mount %s: %w", me.Path, err)
		}
		r.mounts[me.Path] = m
		if st.role == Active {
			m.startActiveWork(st.activeCtx)
		}
	}
	for path, m := range r.mounts {
		if m.entry.Type == tokenMountType || m.entry.Type == cubbyholeType || stored[path] {
			continue
		}
		closeEngine(m)
		delete(r.mounts, path)
	}
	return nil
}
