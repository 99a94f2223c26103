package core

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

const (
	mountTablePath = "sys/mounts"
	mountDataRoot  = "logical/"
)

// MountEntry is one row of the mount table.
type MountEntry struct {
	// Path has a trailing slash: "secret/".
	Path        string            `json:"path"`
	Type        string            `json:"type"`
	Description string            `json:"description"`
	UUID        string            `json:"uuid"`
	Accessor    string            `json:"accessor"`
	Options     map[string]string `json:"options"`
	Config      MountTune         `json:"config"`
	Local       bool              `json:"local"`
	SealWrap    bool              `json:"seal_wrap"`
	// Table is "auth" for auth methods (Path then starts with "auth/"),
	// empty for secrets engines.
	Table string `json:"table,omitempty"`
}

// AuthTable marks auth method mounts.
const AuthTable = "auth"

// tokenMountType is the built-in token auth method, answered by core.
const tokenMountType = "token"

// tokenMount is always mounted at auth/token/.
var tokenMount = MountEntry{Path: "auth/token/", Type: tokenMountType, Description: "token based credentials", UUID: "token", Accessor: "auth_token", Table: AuthTable}

// MountTune holds the tunable settings of a mount, in seconds (0 = system
// default).
type MountTune struct {
	DefaultLeaseTTL int    `json:"default_lease_ttl"`
	MaxLeaseTTL     int    `json:"max_lease_ttl"`
	Description     string `json:"-"`
}

// systemMount is the built-in sys/ mount, listed but not removable.
var systemMount = MountEntry{Path: "sys/", Type: "system", Description: "system endpoints used for control, policy and debugging", UUID: "system", Accessor: "system_sys"}

// reservedMountPaths cannot be mounted over.
var reservedMountPaths = []string{"sys/", "auth/", "cubbyhole/", "identity/"}

type mount struct {
	entry  MountEntry
	engine logical.Engine
	view   *storage.View
}

// relative is path (which this mount serves) relative to the mount: ""
// for the mount's root, spelt with or without its slash. Only the mount's
// own prefix is removed, once.
func (m *mount) relative(path string) string {
	if path+"/" == m.entry.Path {
		return ""
	}
	return strings.TrimPrefix(path, m.entry.Path)
}

// router finds the mount for a path by longest prefix.
type router struct {
	mu     sync.RWMutex
	mounts map[string]*mount
}

func (r *router) match(path string) *mount {
	r.mu.RLock()
	defer r.mu.RUnlock()
	// Try the path's prefixes from the longest, one segment at a time:
	// the cost depends on the path's depth, not on the number of mounts.
	p := path
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	for {
		if m, ok := r.mounts[p]; ok {
			return m
		}
		i := strings.LastIndex(strings.TrimSuffix(p, "/"), "/")
		if i < 0 {
			return nil
		}
		p = p[:i+1]
	}
}

func writeDefaultMounts(ctx context.Context, store storage.Backend) error {
	return saveMountTable(ctx, store, nil)
}

func saveMountTable(ctx context.Context, store storage.Backend, entries []MountEntry) error {
	if entries == nil {
		entries = []MountEntry{}
	}
	b, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	if err := store.Put(ctx, &storage.Entry{Key: mountTablePath, Value: b}); err != nil {
		return fmt.Errorf("writing mount table: %w", err)
	}
	return nil
}

// loadMounts reads the mount table and starts every engine.
func (c *Core) loadMounts(ctx context.Context, st *unsealed) (*router, error) {
	e, err := c.barrier.Get(ctx, mountTablePath)
	if err != nil {
		return nil, fmt.Errorf("reading mount table: %w", err)
	}
	r := &router{mounts: map[string]*mount{tokenMount.Path: {entry: tokenMount}}}
	cubby, err := c.startCubbyhole(ctx)
	if err != nil {
		return nil, err
	}
	r.mounts[cubbyholeMount.Path] = cubby
	if e == nil {
		return r, nil
	}
	var entries []MountEntry
	if err := json.Unmarshal(e.Value, &entries); err != nil {
		return nil, fmt.Errorf("decoding mount table: %w", err)
	}
	for _, me := range entries {
		m, err := c.startMount(ctx, st, me)
		if err != nil {
			return nil, fmt.Errorf("starting mount %s: %w", me.Path, err)
		}
		r.mounts[me.Path] = m
	}
	return r, nil
}

func (c *Core) startMount(ctx context.Context, st *unsealed, me MountEntry) (*mount, error) {
	factories, kind := c.engines, "secrets engine"
	if me.Table == AuthTable {
		factories, kind = c.authMethods, "auth method"
	}
	factory, ok := factories[me.Type]
	if !ok {
		return nil, fmt.Errorf("%w: unknown %s type %q", ErrInvalidRequest, kind, me.Type)
	}
	view := storage.NewView(c.barrier, mountDataRoot+me.UUID+"/")
	revoke := func(ctx context.Context, prefix string) (int, error) {
		// Called from a request, which holds c.stateLock for reading.
		return st.leases.RevokePrefix(ctx, me.Path+strings.TrimPrefix(prefix, "/"), false, nil)
	}
	engine, err := factory(ctx, logical.MountConfig{Options: maps.Clone(me.Options), Storage: view, RevokeLeases: revoke, GeneratePassword: c.passwordFromPolicy, Now: c.now})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	return &mount{entry: me, engine: engine, view: view}, nil
}

// entriesLocked returns the mount table sorted by path. r.mu must be held.
func (r *router) entriesLocked() []MountEntry {
	out := make([]MountEntry, 0, len(r.mounts))
	for _, m := range r.mounts {
		if m.entry.Type != tokenMountType && m.entry.Type != cubbyholeType {
			out = append(out, m.entry)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// startActiveWork starts every engine's active-node work (rotation on a
// schedule and the like) until ctx ends.
func (r *router) startActiveWork(ctx context.Context) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, m := range r.mounts {
		m.startActiveWork(ctx)
	}
}

func (m *mount) startActiveWork(ctx context.Context) {
	if w, ok := m.engine.(logical.ActiveWorker); ok {
		go w.RunActive(ctx)
	}
}

// closeEngines stops the background work of every engine (at seal).
func (r *router) closeEngines() {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, m := range r.mounts {
		closeEngine(m)
	}
}

// closeEngine stops a mount's engine's background work, if it has any.
func closeEngine(m *mount) {
	if cl, ok := m.engine.(logical.Closer); ok {
		cl.Close()
	}
}
