package kv

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

// keyOps carries what every operation on one key needs.
type keyOps struct {
	e   *v2Engine
	st  storage.Backend
	key string
}

// readData answers data/<key>, optionally ?version=N (0 or absent: latest).
// A deleted or destroyed version answers 404 but still carries its
// metadata, with "data" null, as Vault does.
func (k *keyOps) readData(ctx context.Context, params map[string]any) (*logical.Response, error) {
	return k.readVersion(ctx, params, "data", func(data map[string]any) any { return data })
}

// readSubkeys answers subkeys/<key>: the version's structure with every
// leaf value replaced by null, down to ?depth=N levels (0: all).
func (k *keyOps) readSubkeys(ctx context.Context, params map[string]any) (*logical.Response, error) {
	depth, _, err := intParam(params, "depth")
	if err != nil {
		return nil, err
	}
	if depth < 0 {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "depth must be a non-negative integer")
	}
	return k.readVersion(ctx, params, "subkeys", func(data map[string]any) any { return subkeys(data, depth, 1) })
}

func (k *keyOps) readVersion(ctx context.Context, params map[string]any, field string, shape func(map[string]any) any) (*logical.Response, error) {
	n, _, err := intParam(params, "version")
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "version must be a non-negative integer")
	}
	l := k.e.lockFor(k.key)
	l.RLock()
	defer l.RUnlock()
	m, err := k.e.loadMetaForRead(ctx, k.st, k.key)
	if err != nil || m == nil {
		return nil, err
	}
	if n == 0 {
		n = m.CurrentVersion
	}
	v, ok := m.Versions[n]
	if !ok {
		return nil, nil
	}
	if v.Destroyed || v.deleted(k.e.now()) {
		return &logical.Response{
			Data:     map[string]any{field: nil, "metadata": versionMetadata(m, n, v)},
			NotFound: true,
		}, nil
	}
	data, err := loadVersion(ctx, k.st, k.key, n)
	if err != nil || data == nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]any{field: shape(data), "metadata": versionMetadata(m, n, v)}}, nil
}

func subkeys(obj map[string]any, maxDepth, depth int) map[string]any {
	out := make(map[string]any, len(obj))
	for name, v := range obj {
		child, isObj := v.(map[string]any)
		if isObj && (maxDepth == 0 || depth < maxDepth) {
			out[name] = subkeys(child, maxDepth, depth+1)
		} else {
			out[name] = nil
		}
	}
	return out
}

// writeData answers a write to data/<key>: {"data":{...},"options":{"cas":N}}.
func (k *keyOps) writeData(ctx context.Context, body map[string]any) (*logical.Response, error) {
	data, present, err := objectParam(body, "data")
	if err != nil {
		return nil, err
	}
	if !present {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "no data provided")
	}
	cas, hasCAS, err := casOption(body)
	if err != nil {
		return nil, err
	}
	l := k.e.lockFor(k.key)
	l.Lock()
	defer l.Unlock()
	cfg, err := k.e.loadConfig(ctx, k.st)
	if err != nil {
		return nil, err
	}
	m, err := loadMeta(ctx, k.st, k.key)
	if err != nil {
		return nil, err
	}
	if m == nil {
		now := k.e.now()
		m = &keyMeta{CreatedTime: now, UpdatedTime: now, Versions: map[int]versionMeta{}}
	}
	if err := checkCAS(m, cfg, cas, hasCAS); err != nil {
		return nil, err
	}
	return k.addVersion(ctx, m, cfg, data)
}

// patchData merges body's "data" (RFC 7386 JSON merge patch: null removes a
// field) onto the latest version and writes the result as a new version.
// There must be a latest version that is neither deleted nor destroyed.
func (k *keyOps) patchData(ctx context.Context, body map[string]any) (*logical.Response, error) {
	patch, present, err := objectParam(body, "data")
	if err != nil {
		return nil, err
	}
	if !present {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "no data provided")
	}
	cas, hasCAS, err := casOption(body)
	if err != nil {
		return nil, err
	}
	l := k.e.lockFor(k.key)
	l.Lock()
	defer l.Unlock()
	cfg, err := k.e.loadConfig(ctx, k.st)
	if err != nil {
		return nil, err
	}
	m, err := loadMeta(ctx, k.st, k.key)
	if err != nil {
		return nil, err
	}
	notFound := logical.Errorf(logical.ErrNotFound, "no value found at %s", k.key)
	if m == nil || m.CurrentVersion == 0 {
		return nil, notFound
	}
	v, ok := m.Versions[m.CurrentVersion]
	if !ok || v.Destroyed || v.deleted(k.e.now()) {
		return nil, notFound
	}
	if err := checkCAS(m, cfg, cas, hasCAS); err != nil {
		return nil, err
	}
	current, err := loadVersion(ctx, k.st, k.key, m.CurrentVersion)
	if err != nil {
		return nil, err
	}
	if current == nil {
		return nil, notFound
	}
	merged, _ := mergePatch(current, patch).(map[string]any)
	return k.addVersion(ctx, m, cfg, merged)
}

func casOption(body map[string]any) (cas int, ok bool, err error) {
	opts, _, err := objectParam(body, "options")
	if err != nil {
		return 0, false, err
	}
	return intParam(opts, "cas")
}

// checkCAS enforces check-and-set: a given cas must equal the current
// version (0: the key has no version yet), and is required when the mount
// or the key says so.
func checkCAS(m *keyMeta, cfg mountConfig, cas int, hasCAS bool) error {
	if !hasCAS {
		if cfg.CASRequired || m.CASRequired {
			return logical.Errorf(logical.ErrInvalidRequest, "check-and-set parameter required for this call")
		}
		return nil
	}
	if cas != m.CurrentVersion {
		return logical.Errorf(logical.ErrInvalidRequest, "check-and-set parameter did not match the current version")
	}
	return nil
}

// addVersion stores data as the next version of the key, prunes versions
// beyond the limit and commits the metadata. The caller holds the key lock.
func (k *keyOps) addVersion(ctx context.Context, m *keyMeta, cfg mountConfig, data map[string]any) (*logical.Response, error) {
	if data == nil {
		data = map[string]any{}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "data cannot be encoded as JSON")
	}
	now := k.e.now()
	n := m.CurrentVersion + 1
	v := versionMeta{CreatedTime: now}
	if d := deleteAfterFor(m, cfg); d > 0 {
		v.DeletionTime = now.Add(d)
	}
	m.Versions[n] = v
	m.CurrentVersion = n
	m.UpdatedTime = now
	// The new version, the pruning of versions beyond the limit, and the
	// metadata that names what is left go in one step (one fsync on bbolt,
	// atomic there).
	pruned := k.prune(m, maxVersionsFor(m, cfg))
	meta, err := json.Marshal(m)
	if err != nil {
		return nil, storageErr("encoding metadata", err)
	}
	puts := []*storage.Entry{{Key: versionKey(k.key, n), Value: raw}, {Key: metaPrefix + k.key, Value: meta}}
	if err := storage.WriteAll(ctx, k.st, puts, pruned); err != nil {
		return nil, storageErr("writing version", err)
	}
	return &logical.Response{Data: versionMetadata(m, n, v)}, nil
}

// prune drops the oldest versions from m until at most keep remain and
// returns the storage keys of their data, to delete with the metadata.
func (k *keyOps) prune(m *keyMeta, keep int) []string {
	if len(m.Versions) <= keep {
		return nil
	}
	ns := sortedVersions(m)
	var keys []string
	for _, n := range ns[:len(ns)-keep] {
		keys = append(keys, versionKey(k.key, n))
		delete(m.Versions, n)
	}
	m.OldestVersion = ns[len(ns)-keep]
	return keys
}

func sortedVersions(m *keyMeta) []int {
	ns := make([]int, 0, len(m.Versions))
	for n := range m.Versions {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
}

// deleteLatest answers DELETE data/<key>: a soft delete of the latest
// version. Deleting what is already deleted or missing does nothing.
func (k *keyOps) deleteLatest(ctx context.Context) (*logical.Response, error) {
	l := k.e.lockFor(k.key)
	l.Lock()
	defer l.Unlock()
	m, err := loadMeta(ctx, k.st, k.key)
	if err != nil || m == nil {
		return nil, err
	}
	v, ok := m.Versions[m.CurrentVersion]
	now := k.e.now()
	if !ok || v.Destroyed || v.deleted(now) {
		return nil, nil
	}
	v.DeletionTime = now
	m.Versions[m.CurrentVersion] = v
	return nil, saveMeta(ctx, k.st, k.key, m)
}

// versionChange is what delete/, undelete/ and destroy/ do to one version.
// It reports whether it changed anything.
type versionChange func(ctx context.Context, k *keyOps, n int, v *versionMeta) (bool, error)

func softDelete(_ context.Context, k *keyOps, _ int, v *versionMeta) (bool, error) {
	now := k.e.now()
	if v.Destroyed || v.deleted(now) {
		return false, nil
	}
	v.DeletionTime = now
	return true, nil
}

// undelete clears any deletion time, including one scheduled by
// delete_version_after.
func undelete(_ context.Context, _ *keyOps, _ int, v *versionMeta) (bool, error) {
	if v.Destroyed || v.DeletionTime.IsZero() {
		return false, nil
	}
	v.DeletionTime = time.Time{}
	return true, nil
}

// destroy removes the version's data for good; the metadata keeps a record
// that it was destroyed.
func destroy(ctx context.Context, k *keyOps, n int, v *versionMeta) (bool, error) {
	if v.Destroyed {
		return false, nil
	}
	if err := k.st.Delete(ctx, versionKey(k.key, n)); err != nil {
		return false, storageErr("destroying version", err)
	}
	v.Destroyed = true
	return true, nil
}

// changeVersions applies change to each listed version that exists; other
// numbers are ignored, and so is a key that does not exist.
func (k *keyOps) changeVersions(ctx context.Context, body map[string]any, change versionChange) (*logical.Response, error) {
	ns, err := versionsParam(body)
	if err != nil {
		return nil, err
	}
	l := k.e.lockFor(k.key)
	l.Lock()
	defer l.Unlock()
	m, err := loadMeta(ctx, k.st, k.key)
	if err != nil || m == nil {
		return nil, err
	}
	changed := false
	for _, n := range ns {
		v, ok := m.Versions[n]
		if !ok {
			continue
		}
		did, err := change(ctx, k, n, &v)
		if err != nil {
			return nil, err
		}
		if did {
			m.Versions[n] = v
			changed = true
		}
	}
	if !changed {
		return nil, nil
	}
	return nil, saveMeta(ctx, k.st, k.key, m)
}
