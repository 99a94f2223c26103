// Package core is Arca's centre: seal state (init, unseal, seal, rekey,
// rotate), the mount table and router, and the token check. It knows
// nothing of HTTP; the server package calls it with typed requests.
//
// Storage layout. Outside the barrier (raw, under barrier.ReservedPrefix):
//
//	core/seal-config  JSON: the seal, its splits, the root key it wrapped (sealconf)
//	core/keyring      the keyring sealed with the root key (owned by barrier)
//
// Inside the barrier:
//
//	sys/mounts             the mount table (JSON)
//	sys/token/salt         the salt for token hashes
//	sys/token/id/<hash>    token entries, keyed by HMAC-SHA256(salt, token)
//	logical/<mount uuid>/  each mount's own storage view
package core

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arca-secrets/arca/audit"
	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/core/audittable"
	"github.com/arca-secrets/arca/core/genroot"
	"github.com/arca-secrets/arca/core/sealconf"
	"github.com/arca-secrets/arca/events"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/secmem"
	"github.com/arca-secrets/arca/storage"
)

// Config is what a Core is built from.
type Config struct {
	// Storage is the physical backend (inmem, bolt, ...).
	Storage storage.Backend
	// StorageType names it for seal-status ("inmem", "bolt").
	StorageType string
	// Seal protects the root key; the Shamir seal (unseal key shares)
	// when nil.
	Seal seal.Seal
	// MigrateFrom is the seal marked disabled in the config: the seal
	// being migrated from to Seal (seal_migrate.go). Nil: no migration.
	MigrateFrom seal.Seal
	// Engines maps a secrets engine type ("kv") to its factory.
	Engines map[string]logical.Factory
	// AuthMethods maps an auth method type ("userpass") to its factory.
	AuthMethods map[string]logical.Factory
	// Memory is how key buffers are allocated: RequireLock (default) or,
	// with disable_mlock, BestEffort.
	Memory secmem.Mode
	// Logger receives operational messages; never secrets. Discarded when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// AuditDevices are declared in the config file and enabled at unseal.
	AuditDevices []AuditDevice
	// AuditPolicy limits what sys/audit may enable.
	AuditPolicy AuditPolicy
	// Events receives change events (KV writes, revoked leases and
	// tokens, policy changes); nil publishes none.
	Events *events.Bus
	// HA: the node is one of a cluster and stays a standby once unsealed
	// until SetActive makes it the active node (the Raft leader's
	// watcher does). False: a node alone, active as soon as unsealed.
	HA bool
}

// Core holds the server's state. All methods are safe for concurrent use.
type Core struct {
	physical    storage.Backend
	storageType string
	barrier     *barrier.Barrier
	seal        seal.Seal
	oldSeal     seal.Seal // the disabled seal of a migration, or nil
	engines     map[string]logical.Factory
	authMethods map[string]logical.Factory
	memory      secmem.Mode
	log         *slog.Logger
	now         func() time.Time
	ha          bool

	// stateLock: requests hold it for reading; seal and unseal for writing,
	// so a seal waits for requests in flight and none starts after it.
	stateLock sync.RWMutex
	// state is nil while sealed (see enter).
	state    *unsealed
	unseal   unsealProgress
	policies policyCache

	audit *audit.Broker
	// auditTable is the devices audit records to, from the config file
	// and sys/audit.
	auditTable *audittable.Table
	// auditFailures counts requests refused for want of a record.
	auditFailures atomic.Uint64

	// wrapMu makes unwrapping single-use under concurrency.
	wrapMu sync.Mutex

	rekeyLock sync.Mutex
	rekey     *rekeyState

	genRoot *genroot.Tracker // the root token generation in progress
	events  *events.Bus
}

// New returns a sealed Core.
func New(cfg Config) *Core {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	b := barrier.New(barrier.Config{Backend: cfg.Storage, Memory: cfg.Memory, Now: now})
	broker := audit.NewBroker(now)
	return &Core{
		physical:    cfg.Storage,
		storageType: cfg.StorageType,
		barrier:     b,
		seal:        sealOrDefault(cfg.Seal),
		oldSeal:     cfg.MigrateFrom,
		engines:     cfg.Engines,
		authMethods: cfg.AuthMethods,
		memory:      cfg.Memory,
		log:         log,
		now:         now,
		ha:          cfg.HA,
		audit:       broker,
		auditTable:  audittable.New(b, broker, cfg.AuditDevices, cfg.AuditPolicy, log),
		genRoot:     genroot.NewTracker(cfg.Memory),
		events:      cfg.Events,
	}
}

// Sealed reports whether the core is sealed.
func (c *Core) Sealed() bool {
	c.stateLock.RLock()
	defer c.stateLock.RUnlock()
	return c.state == nil
}

// Initialized reports whether init has run.
func (c *Core) Initialized(ctx context.Context) (bool, error) {
	conf, err := sealconf.Read(ctx, c.physical)
	if err != nil {
		return false, err
	}
	return conf != nil, nil
}

// Now is the core's clock reading.
func (c *Core) Now() time.Time { return c.now() }
