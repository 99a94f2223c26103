package core

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/arca-secrets/arca/logical"
)

// NormalizeMountPath trims slashes and checks a mount path: segments of
// letters, digits and "-_.", no ".." or empty segment.
func NormalizeMountPath(path string) (string, error) {
	p := strings.Trim(path, "/")
	if p == "" {
		return "", fmt.Errorf("%w: mount path is empty", ErrInvalidRequest)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("%w: mount path %q has an empty or dot segment", ErrInvalidRequest, path)
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.", r)) {
				return "", fmt.Errorf("%w: mount path %q has a character outside [A-Za-z0-9._-]", ErrInvalidRequest, path)
			}
		}
	}
	return p + "/", nil
}

// Mounts returns the secrets engines (table "") or the auth methods
// (AuthTable), including the built-in sys/ and auth/token/ mounts.
func (c *Core) Mounts(ctx context.Context, table string) ([]MountEntry, error) {
	st, release, err := c.enter()
	if err != nil {
		return nil, err
	}
	defer release()
	st.router.mu.RLock()
	defer st.router.mu.RUnlock()
	var out []MountEntry
	for _, me := range st.router.entriesLocked() {
		if me.Table == table {
			out = append(out, me)
		}
	}
	if table == AuthTable {
		return append(out, tokenMount), nil
	}
	if _, ok := st.router.mounts[cubbyholeMount.Path]; ok {
		out = append(out, cubbyholeMount)
	}
	return append(out, systemMount), nil
}

// tablePath returns the router path of a mount: auth methods live under
// "auth/".
func tablePath(path, table string) (string, error) {
	p, err := NormalizeMountPath(path)
	if err != nil {
		return "", err
	}
	if table == AuthTable {
		return "auth/" + p, nil
	}
	return p, nil
}

// Mount enables a secrets engine, or with me.Table = AuthTable an auth
// method, at me.Path (relative to "auth/" for auth methods).
func (c *Core) Mount(ctx context.Context, me MountEntry) error {
	path, err := tablePath(me.Path, me.Table)
	if err != nil {
		return err
	}
	me.Path = path
	if me.Type == "kv-v2" {
		me.Type = "kv"
		me.Options = maps.Clone(me.Options)
		if me.Options == nil {
			me.Options = map[string]string{}
		}
		me.Options["version"] = "2"
	}
	// Compared without case: a mount at "SYS/" or "auth/Token/" shadows
	// nothing, but reads to a policy author as if it were covered by the
	// rules for the real one.
	lower := strings.ToLower(path)
	if me.Table == AuthTable {
		if lower == tokenMount.Path {
			return fmt.Errorf("%w: the token auth method is built in", ErrInvalidRequest)
		}
	} else {
		for _, r := range reservedMountPaths {
			if strings.HasPrefix(lower, r) {
				return fmt.Errorf("%w: cannot mount under reserved path %q", ErrInvalidRequest, r)
			}
		}
	}
	if me.UUID, err = randomID(); err != nil {
		return err
	}
	accessor, err := randomID()
	if err != nil {
		return err
	}
	me.Accessor = me.Type + "_" + accessor[:8]

	st, release, err := c.enter()
	if err != nil {
		return err
	}
	defer release()
	r := st.router
	r.mu.Lock()
	defer r.mu.Unlock()
	for existing := range r.mounts {
		if strings.HasPrefix(path, existing) || strings.HasPrefix(existing, path) {
			return fmt.Errorf("%w: path is already in use at %s", ErrInvalidRequest, existing)
		}
	}
	m, err := c.startMount(ctx, st, me)
	if err != nil {
		return err
	}
	entries := append(r.entriesLocked(), me)
	if err := saveMountTable(ctx, c.barrier, entries); err != nil {
		return err
	}
	r.mounts[path] = m
	if st.role == Active {
		m.startActiveWork(st.activeCtx)
	}
	c.log.Info("mount enabled", "path", path, "type", me.Type)
	return nil
}

// Unmount disables the mount at path (in table) and deletes its data.
// Disabling an auth method first revokes every token it issued.
func (c *Core) Unmount(ctx context.Context, path, table string) error {
	path, err := tablePath(path, table)
	if err != nil {
		return err
	}
	if path == tokenMount.Path || path == cubbyholeMount.Path {
		return fmt.Errorf("%w: %s is built in and cannot be disabled", ErrInvalidRequest, path)
	}
	st, release, err := c.enter()
	if err != nil {
		return err
	}
	defer release()
	r := st.router
	r.mu.RLock()
	m, ok := r.mounts[path]
	r.mu.RUnlock()
	if !ok || m.entry.Table != table {
		// Like Vault, disabling what is not mounted is not an error.
		return nil
	}
	// The secrets a mount handed out are revoked while it can still
	// revoke them; if it cannot, the mount stays (revoke-force the
	// leases first to disable it anyway).
	if n, err := st.leases.RevokePrefix(ctx, path, false, nil); err != nil {
		return fmt.Errorf("revoking the leases of %s (%d revoked): %w", path, n, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if m, ok = r.mounts[path]; !ok || m.entry.Table != table {
		// Like Vault, disabling what is not mounted is not an error.
		return nil
	}
	if table == AuthTable {
		n, err := st.tokens.RevokeByMount(ctx, m.entry.Accessor)
		if err != nil {
			return fmt.Errorf("revoking the tokens of %s: %w", path, err)
		}
		c.log.Info("revoked tokens of disabled auth method", "path", path, "count", n)
	}
	delete(r.mounts, path)
	if err := saveMountTable(ctx, c.barrier, r.entriesLocked()); err != nil {
		r.mounts[path] = m
		return err
	}
	if cl, ok := m.engine.(logical.Closer); ok {
		cl.Close()
	}
	// The table no longer names the mount, so its data is unreachable even
	// if clearing stops halfway.
	if err := clearViewData(ctx, m); err != nil {
		c.log.Warn("clearing data of disabled mount", "path", path, "error", err)
	}
	c.log.Info("mount disabled", "path", path)
	return nil
}

// MountInfo returns the mount that serves path (for sys/internal/ui/mounts
// and tune), or ErrNoMount.
func (c *Core) MountInfo(ctx context.Context, path string) (MountEntry, error) {
	st, release, err := c.enter()
	if err != nil {
		return MountEntry{}, err
	}
	defer release()
	if p := strings.Trim(path, "/") + "/"; p == systemMount.Path || strings.HasPrefix(p, systemMount.Path) {
		return systemMount, nil
	}
	m := st.router.match(strings.TrimPrefix(path, "/"))
	if m == nil {
		return MountEntry{}, ErrNoMount
	}
	return m.entry, nil
}

// Tune changes a mount's TTLs and description.
func (c *Core) Tune(ctx context.Context, path, table string, tune MountTune, description *string) error {
	path, err := tablePath(path, table)
	if err != nil {
		return err
	}
	if tune.DefaultLeaseTTL < 0 || tune.MaxLeaseTTL < 0 {
		return fmt.Errorf("%w: lease TTLs cannot be negative", ErrInvalidRequest)
	}
	if tune.MaxLeaseTTL != 0 && tune.DefaultLeaseTTL > tune.MaxLeaseTTL {
		return fmt.Errorf("%w: default_lease_ttl cannot be larger than max_lease_ttl", ErrInvalidRequest)
	}
	st, release, err := c.enter()
	if err != nil {
		return err
	}
	defer release()
	r := st.router
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.mounts[path]
	if !ok || m.entry.Table != table || m.engine == nil {
		return fmt.Errorf("%w: no tunable mount at %s", ErrInvalidRequest, path)
	}
	old := m.entry
	m.entry.Config.DefaultLeaseTTL, m.entry.Config.MaxLeaseTTL = tune.DefaultLeaseTTL, tune.MaxLeaseTTL
	if description != nil {
		m.entry.Description = *description
	}
	if err := saveMountTable(ctx, c.barrier, r.entriesLocked()); err != nil {
		m.entry = old
		return err
	}
	return nil
}
