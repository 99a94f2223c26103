package kv

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

// handleConfig answers config: read, and update of the fields given.
func (e *v2Engine) handleConfig(ctx context.Context, st storage.Backend, req *logical.Request) (*logical.Response, error) {
	switch req.Operation {
	case logical.ReadOperation:
		c, err := e.loadConfig(ctx, st)
		if err != nil {
			return nil, err
		}
		return &logical.Response{Data: map[string]any{
			"cas_required":         c.CASRequired,
			"delete_version_after": c.DeleteVersionAfter.String(),
			"max_versions":         c.MaxVersions,
		}}, nil
	case logical.CreateOperation, logical.UpdateOperation:
		e.configMu.Lock()
		defer e.configMu.Unlock()
		c, err := e.loadConfig(ctx, st)
		if err != nil {
			return nil, err
		}
		s, err := settingsParams(req.Data)
		if err != nil {
			return nil, err
		}
		s.apply(&c.MaxVersions, &c.CASRequired, &c.DeleteVersionAfter)
		raw, err := json.Marshal(c)
		if err != nil {
			return nil, storageErr("encoding configuration", err)
		}
		if err := st.Put(ctx, &storage.Entry{Key: configKey, Value: raw}); err != nil {
			return nil, storageErr("writing configuration", err)
		}
		return nil, nil
	}
	return nil, unsupportedOperation(req.Operation, req.Path)
}

// settings are the fields shared by config and metadata writes; a nil
// field was not given and leaves the stored value alone.
type settings struct {
	maxVersions        *int
	casRequired        *bool
	deleteVersionAfter *time.Duration
}

func settingsParams(data map[string]any) (settings, error) {
	var s settings
	if n, ok, err := intParam(data, "max_versions"); err != nil {
		return s, err
	} else if ok {
		if n < 0 {
			return s, logical.Errorf(logical.ErrInvalidRequest, "max_versions must be a non-negative integer")
		}
		s.maxVersions = &n
	}
	if b, ok, err := boolParam(data, "cas_required"); err != nil {
		return s, err
	} else if ok {
		s.casRequired = &b
	}
	if d, ok, err := durationParam(data, "delete_version_after"); err != nil {
		return s, err
	} else if ok {
		s.deleteVersionAfter = &d
	}
	return s, nil
}

func (s settings) apply(maxVersions *int, casRequired *bool, deleteAfter *time.Duration) {
	if s.maxVersions != nil {
		*maxVersions = *s.maxVersions
	}
	if s.casRequired != nil {
		*casRequired = *s.casRequired
	}
	if s.deleteVersionAfter != nil {
		*deleteAfter = *s.deleteVersionAfter
	}
}

// readMetadata answers a read of metadata/<key>.
func (k *keyOps) readMetadata(ctx context.Context) (*logical.Response, error) {
	l := k.e.lockFor(k.key)
	l.RLock()
	defer l.RUnlock()
	m, err := loadMeta(ctx, k.st, k.key)
	if err != nil || m == nil {
		return nil, err
	}
	versions := make(map[string]any, len(m.Versions))
	for n, v := range m.Versions {
		versions[strconv.Itoa(n)] = map[string]any{
			"created_time":  formatTime(v.CreatedTime),
			"deletion_time": formatTime(v.DeletionTime),
			"destroyed":     v.Destroyed,
		}
	}
	return &logical.Response{Data: map[string]any{
		"cas_required":         m.CASRequired,
		"created_time":         formatTime(m.CreatedTime),
		"current_version":      m.CurrentVersion,
		"custom_metadata":      customMetadataValue(m),
		"delete_version_after": m.DeleteVersionAfter.String(),
		"max_versions":         m.MaxVersions,
		"oldest_version":       m.OldestVersion,
		"updated_time":         formatTime(m.UpdatedTime),
		"versions":             versions,
	}}, nil
}

// writeMetadata answers a write (create or update) or a patch of
// metadata/<key>. Only the fields given change. A write replaces
// custom_metadata whole; a patch merges it, a null value removing a field.
// A write may create metadata for a key with no versions yet; a patch needs
// the key to exist.
func (k *keyOps) writeMetadata(ctx context.Context, body map[string]any, patch bool) (*logical.Response, error) {
	s, err := settingsParams(body)
	if err != nil {
		return nil, err
	}
	custom, hasCustom, err := customMetadataParam(body, patch)
	if err != nil {
		return nil, err
	}
	l := k.e.lockFor(k.key)
	l.Lock()
	defer l.Unlock()
	m, err := loadMeta(ctx, k.st, k.key)
	if err != nil {
		return nil, err
	}
	now := k.e.now()
	if m == nil {
		if patch {
			return nil, logical.Errorf(logical.ErrNotFound, "no metadata found at %s", k.key)
		}
		m = &keyMeta{CreatedTime: now, Versions: map[int]versionMeta{}}
	}
	s.apply(&m.MaxVersions, &m.CASRequired, &m.DeleteVersionAfter)
	if hasCustom {
		next := map[string]string{}
		if patch {
			for name, v := range m.CustomMetadata {
				next[name] = v
			}
		}
		for name, v := range custom {
			if v == nil {
				delete(next, name)
			} else {
				next[name] = *v
			}
		}
		if len(next) > maxCustomMetadataKeys {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "custom_metadata may hold at most %d keys", maxCustomMetadataKeys)
		}
		m.CustomMetadata = next
	}
	m.UpdatedTime = now
	return nil, saveMeta(ctx, k.st, k.key, m)
}

// deleteMetadata answers DELETE metadata/<key>: every version's data, then
// the metadata, are removed for good.
func (k *keyOps) deleteMetadata(ctx context.Context) (*logical.Response, error) {
	l := k.e.lockFor(k.key)
	l.Lock()
	defer l.Unlock()
	m, err := loadMeta(ctx, k.st, k.key)
	if err != nil || m == nil {
		return nil, err
	}
	for n := range m.Versions {
		if err := k.st.Delete(ctx, versionKey(k.key, n)); err != nil {
			return nil, storageErr("deleting version", err)
		}
	}
	if err := k.st.Delete(ctx, metaPrefix+k.key); err != nil {
		return nil, storageErr("deleting metadata", err)
	}
	return nil, nil
}
