package core

import (
	"context"

	"github.com/arca-secrets/arca/storage"

	"github.com/arca-secrets/arca/auth/tokenauth"
	"github.com/arca-secrets/arca/events"
	"github.com/arca-secrets/arca/lease"
	"github.com/arca-secrets/arca/token"
)

// Role is what an unsealed node does: a standby serves what it can from
// its applied state, the active node does the writes and the work only
// one node may do (lease expiry, tidy, rotation). A single node is
// always active once unsealed.
type Role int

const (
	Standby Role = iota
	Active
)

// unsealed is what exists only while the core is unsealed: the router
// with its engines, the token store, the lease manager. Core reaches them
// only through the state that enter returns, so a sealed core has no nil
// manager to reach: it has no *unsealed at all.
type unsealed struct {
	router *router
	tokens *token.Store
	// tokenAPI is the token auth method (auth/token/) over tokens.
	tokenAPI *tokenauth.Engine
	leases   *lease.Manager
	role     Role
	// activeCtx lives while the node is active; stopActive ends it and
	// with it the active node's background work.
	activeCtx  context.Context
	stopActive context.CancelFunc
}

// enter takes the state lock for reading and returns the unsealed state,
// or ErrSealed. The caller calls release when done (only when err is nil).
func (c *Core) enter() (st *unsealed, release func(), err error) {
	c.stateLock.RLock()
	if c.state == nil {
		c.stateLock.RUnlock()
		return nil, nil, ErrSealed
	}
	return c.state, c.stateLock.RUnlock, nil
}

// Active reports whether the core is unsealed and the active node.
func (c *Core) Active() bool {
	st, release, err := c.enter()
	if err != nil {
		return false
	}
	defer release()
	return st.role == Active
}

// Counts returns how many service tokens and leases are stored, on the
// active node (whose token store and lease manager keep the counts);
// ok is false elsewhere.
func (c *Core) Counts(ctx context.Context) (tokens, leases int64, ok bool) {
	st, release, err := c.enter()
	if err != nil {
		return 0, 0, false
	}
	defer release()
	if st.role != Active {
		return 0, 0, false
	}
	tokens, terr := st.tokens.Count(ctx)
	leases, lerr := st.leases.Count(ctx)
	return tokens, leases, terr == nil && lerr == nil
}

// AuditFailures counts the requests refused, or answers withheld,
// because no audit device could record them.
func (c *Core) AuditFailures() uint64 { return c.auditFailures.Load() }

// becomeActive starts the work only the active node does, with the
// unsealed state st. c.stateLock must be held for writing.
func (c *Core) becomeActive(st *unsealed) {
	ctx, cancel := context.WithCancel(context.Background())
	st.role, st.activeCtx, st.stopActive = Active, ctx, cancel
	c.startTidy(ctx)
	st.router.startActiveWork(ctx)
}

// stepDown stops the active node's work; the node stays unsealed.
// c.stateLock must be held for writing.
func (st *unsealed) stepDown() {
	if st.stopActive != nil {
		st.stopActive()
		st.stopActive = nil
	}
	st.role = Standby
}

// SetActive makes the unsealed node the active one (it leads the
// cluster and has applied everything committed before) or a standby
// (it lost the lead). Requests in flight finish first.
func (c *Core) SetActive(active bool) error {
	c.stateLock.Lock()
	defer c.stateLock.Unlock()
	st := c.state
	switch {
	case st == nil:
		return ErrSealed
	case active && st.role != Active:
		c.becomeActive(st)
		c.log.Info("this node is now the active node")
	case !active && st.role == Active:
		st.stepDown()
		// It publishes nothing more: its subscribers subscribe again,
		// through it to the new active node.
		c.events.EndAll(events.ErrNotActive)
		c.log.Info("this node is now a standby")
	}
	return nil
}

// clusterPrefix is where the cluster keeps its own entries inside the
// barrier: its CA, the active node's addresses.
const clusterPrefix = "sys/cluster/"

// ClusterStorage is the barrier's storage under sys/cluster/, for the
// cluster's own entries; ErrSealed while sealed. Writes succeed only on
// the active node.
func (c *Core) ClusterStorage() (storage.Backend, error) {
	if c.Sealed() {
		return nil, ErrSealed
	}
	return storage.NewView(c.barrier, clusterPrefix), nil
}
