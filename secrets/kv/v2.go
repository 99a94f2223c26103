package kv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

// defaultMaxVersions is how many versions a key keeps when neither the key
// nor the mount says otherwise.
const defaultMaxVersions = 10

// lockStripes is the number of per-key locks. Keys share a lock only when
// their paths hash alike, which costs parallelism, never safety: a write
// holds its key's lock across the storage commit, so a writer whose key
// shares a stripe with one being written waits a whole fsync and misses
// the group commit in progress. Among 16 writers, 64 stripes gave about two
// such pairs at any moment, 1,024 give one in eight (24 KiB a mount).
const lockStripes = 1024

// v2Engine is the versioned engine. Every change to a key (and every read
// of it, so that it never sees a half-made change) holds that key's stripe
// lock, which makes check-and-set atomic with the write it guards.
type v2Engine struct {
	storage storage.Backend
	// now is the mount's clock (version times, delete_version_after).
	now   func() time.Time
	locks [lockStripes]sync.RWMutex
	// configMu orders writes of the mount configuration.
	configMu sync.Mutex
	// meta caches decoded metadata for reads (metacache.go).
	meta metaCache
}

var _ logical.Engine = (*v2Engine)(nil)

// mountConfig is the stored mount configuration. Zero values mean "not
// set": max_versions 0 keeps the default of 10, a zero delete_version_after
// never schedules deletion.
type mountConfig struct {
	MaxVersions        int           `json:"max_versions"`
	CASRequired        bool          `json:"cas_required"`
	DeleteVersionAfter time.Duration `json:"delete_version_after"`
}

// keyMeta is one key's stored metadata.
type keyMeta struct {
	CreatedTime        time.Time           `json:"created_time"`
	UpdatedTime        time.Time           `json:"updated_time"`
	CurrentVersion     int                 `json:"current_version"`
	OldestVersion      int                 `json:"oldest_version"`
	MaxVersions        int                 `json:"max_versions"`
	CASRequired        bool                `json:"cas_required"`
	DeleteVersionAfter time.Duration       `json:"delete_version_after"`
	CustomMetadata     map[string]string   `json:"custom_metadata,omitempty"`
	Versions           map[int]versionMeta `json:"versions"`
}

// versionMeta is what metadata records about one version.
type versionMeta struct {
	CreatedTime time.Time `json:"created_time"`
	// DeletionTime is zero when no deletion is scheduled; a version is
	// deleted once it has passed.
	DeletionTime time.Time `json:"deletion_time,omitzero"`
	Destroyed    bool      `json:"destroyed,omitempty"`
}

func (v versionMeta) deleted(now time.Time) bool {
	return !v.DeletionTime.IsZero() && !v.DeletionTime.After(now)
}

func (e *v2Engine) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	st := backendFor(req, e.storage)
	if req.Path == "config" {
		return e.handleConfig(ctx, st, req)
	}
	top, key, ok := strings.Cut(req.Path, "/")
	if !ok {
		return nil, unsupportedPath(req.Path)
	}
	if req.Operation == logical.ListOperation {
		if top != "metadata" {
			return nil, unsupportedOperation(req.Operation, req.Path)
		}
		if err := checkPrefix(key); err != nil {
			return nil, err
		}
		return listKeys(ctx, st, metaPrefix+key)
	}
	switch top {
	case "data", "metadata", "delete", "undelete", "destroy", "subkeys":
	default:
		return nil, unsupportedPath(req.Path)
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	k := &keyOps{e: e, st: st, key: key}
	op := req.Operation
	if op == logical.CreateOperation {
		op = logical.UpdateOperation
	}
	if op != logical.ReadOperation {
		// Anything but a read may change the key's metadata.
		e.meta.drop(key)
		defer e.meta.drop(key)
	}
	switch top + " " + string(op) {
	case "data read":
		return k.readData(ctx, req.Data)
	case "data update":
		return k.writeData(ctx, req.Data)
	case "data patch":
		return k.patchData(ctx, req.Data)
	case "data delete":
		return k.deleteLatest(ctx)
	case "delete update":
		return k.changeVersions(ctx, req.Data, softDelete)
	case "undelete update":
		return k.changeVersions(ctx, req.Data, undelete)
	case "destroy update":
		return k.changeVersions(ctx, req.Data, destroy)
	case "metadata read":
		return k.readMetadata(ctx)
	case "metadata update":
		return k.writeMetadata(ctx, req.Data, false)
	case "metadata patch":
		return k.writeMetadata(ctx, req.Data, true)
	case "metadata delete":
		return k.deleteMetadata(ctx)
	case "subkeys read":
		return k.readSubkeys(ctx, req.Data)
	}
	return nil, unsupportedOperation(req.Operation, req.Path)
}

// Storage keys of the versioned engine.
const (
	configKey      = "config"
	metaPrefix     = "meta/"
	versionsPrefix = "versions/"
)

func versionKey(key string, n int) string {
	sum := sha256.Sum256([]byte(key))
	return versionsPrefix + hex.EncodeToString(sum[:]) + "/" + strconv.Itoa(n)
}

func (e *v2Engine) lockFor(key string) *sync.RWMutex {
	h := fnv.New32a()
	h.Write([]byte(key))
	return &e.locks[h.Sum32()%lockStripes]
}

func (e *v2Engine) loadConfig(ctx context.Context, st storage.Backend) (mountConfig, error) {
	var c mountConfig
	entry, err := st.Get(ctx, configKey)
	if err != nil {
		return c, storageErr("reading configuration", err)
	}
	if entry == nil {
		return c, nil
	}
	if err := json.Unmarshal(entry.Value, &c); err != nil {
		return c, storageErr("decoding configuration", err)
	}
	return c, nil
}

func loadMeta(ctx context.Context, st storage.Backend, key string) (*keyMeta, error) {
	entry, err := st.Get(ctx, metaPrefix+key)
	if err != nil {
		return nil, storageErr("reading metadata", err)
	}
	if entry == nil {
		return nil, nil
	}
	var m keyMeta
	if err := json.Unmarshal(entry.Value, &m); err != nil {
		return nil, storageErr("decoding metadata", err)
	}
	if m.Versions == nil {
		m.Versions = map[int]versionMeta{}
	}
	return &m, nil
}

func saveMeta(ctx context.Context, st storage.Backend, key string, m *keyMeta) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return storageErr("encoding metadata", err)
	}
	if err := st.Put(ctx, &storage.Entry{Key: metaPrefix + key, Value: raw}); err != nil {
		return storageErr("writing metadata", err)
	}
	return nil
}

// loadVersion returns version n's data, or nil when its record is gone.
func loadVersion(ctx context.Context, st storage.Backend, key string, n int) (map[string]any, error) {
	entry, err := st.Get(ctx, versionKey(key, n))
	if err != nil {
		return nil, storageErr("reading version", err)
	}
	if entry == nil {
		return nil, nil
	}
	data, err := decodeObject(entry.Value)
	if err != nil {
		return nil, storageErr("decoding version", err)
	}
	if data == nil {
		data = map[string]any{}
	}
	return data, nil
}

// maxVersionsFor is how many versions a key keeps: its own setting, else
// the mount's, else the default.
func maxVersionsFor(m *keyMeta, c mountConfig) int {
	switch {
	case m.MaxVersions > 0:
		return m.MaxVersions
	case c.MaxVersions > 0:
		return c.MaxVersions
	}
	return defaultMaxVersions
}

// deleteAfterFor is how long a new version lives before it counts as
// deleted: the shorter of the key's and the mount's settings, 0 for never.
func deleteAfterFor(m *keyMeta, c mountConfig) time.Duration {
	k, mc := m.DeleteVersionAfter, c.DeleteVersionAfter
	switch {
	case k > 0 && mc > 0:
		return min(k, mc)
	case k > 0:
		return k
	}
	return mc
}

// Response shapes, as Vault writes them.

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func customMetadataValue(m *keyMeta) any {
	if len(m.CustomMetadata) == 0 {
		return nil
	}
	out := make(map[string]any, len(m.CustomMetadata))
	for k, v := range m.CustomMetadata {
		out[k] = v
	}
	return out
}

// versionMetadata is the "metadata" of a data read and the answer to a write.
func versionMetadata(m *keyMeta, n int, v versionMeta) map[string]any {
	return map[string]any{
		"created_time":    formatTime(v.CreatedTime),
		"custom_metadata": customMetadataValue(m),
		"deletion_time":   formatTime(v.DeletionTime),
		"destroyed":       v.Destroyed,
		"version":         n,
	}
}
