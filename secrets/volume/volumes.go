package volume

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/arca-secrets/arca/logical"
)

// passphraseSize is the number of random bytes in a volume passphrase
// (512 bits); the passphrase is their lowercase hex, 128 characters.
const passphraseSize = 64

func (e *engine) list(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	keys, err := req.Storage.List(ctx, volumePrefix)
	if err != nil {
		return nil, fmt.Errorf("listing volumes: %w", err)
	}
	sort.Strings(keys)
	return logical.ListResponse(keys), nil
}

// create answers a write to volumes/NAME: a new volume with its first key
// version. Writing a volume that exists changes nothing (a revoked one
// stays revoked: delete it first to reuse its name).
func (e *engine) create(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, err := load(ctx, req.Storage, name)
	if err != nil || v != nil {
		return nil, err
	}
	k, err := newKEK()
	if err != nil {
		return nil, err
	}
	now := e.now().UTC()
	v = &vol{Name: name, Created: now, Latest: 1, Versions: []kekVersion{{Version: 1, Created: now, Key: k}}}
	return nil, save(ctx, req.Storage, v)
}

// read answers metadata, never key material.
func (e *engine) read(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	v, err := load(ctx, req.Storage, name)
	if err != nil || v == nil {
		return nil, err
	}
	versions := map[string]any{}
	for _, kv := range v.Versions {
		versions[fmt.Sprint(kv.Version)] = kv.Created.Format(time.RFC3339Nano)
	}
	data := map[string]any{
		"name":           v.Name,
		"created_time":   v.Created.Format(time.RFC3339Nano),
		"latest_version": v.Latest,
		"versions":       versions,
		"revoked":        v.Revoked != nil,
	}
	if v.Revoked != nil {
		data["revoked_time"] = v.Revoked.Format(time.RFC3339Nano)
	}
	return &logical.Response{Data: data}, nil
}

func (e *engine) delete(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := req.Storage.Delete(ctx, volumePrefix+name); err != nil {
		return nil, fmt.Errorf("deleting volume %s: %w", name, err)
	}
	return nil, nil
}

// usable loads a volume that exists and is not revoked.
func usable(ctx context.Context, req *logical.Request, name string) (*vol, error) {
	v, err := load(ctx, req.Storage, name)
	switch {
	case err != nil:
		return nil, err
	case v == nil:
		return nil, logical.Errorf(logical.ErrNotFound, "no volume named %s", name)
	case v.Revoked != nil:
		return nil, revokedError(v)
	}
	return v, nil
}

func revokedError(v *vol) error {
	return logical.Errorf(logical.ErrInvalidRequest, "volume %s was revoked at %s: its keys are destroyed and no wrapped passphrase of it can be unwrapped", v.Name, v.Revoked.Format(time.RFC3339))
}

// passphrase answers a new passphrase from crypto/rand and its wrapped form
// under the newest key version. Nothing is stored: the host keeps the
// wrapped form.
func (e *engine) passphrase(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	v, err := usable(ctx, req, name)
	if err != nil {
		return nil, err
	}
	raw := make([]byte, passphraseSize)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("generating a passphrase: %w", err)
	}
	latest := v.version(v.Latest)
	if latest == nil {
		return nil, fmt.Errorf("volume %s lacks its latest key version %d", name, v.Latest)
	}
	wrapped, err := latest.Key.wrap(name, latest.Version, raw)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]any{
		"passphrase":  hex.EncodeToString(raw),
		"wrapped":     wrapped,
		"key_version": latest.Version,
	}}, nil
}

// open returns the passphrase bytes inside the wrapped parameter.
func open(v *vol, data map[string]any) ([]byte, int, error) {
	s, err := logical.StringParam(data, "wrapped")
	if err != nil {
		return nil, 0, err
	}
	if s == "" {
		return nil, 0, logical.Errorf(logical.ErrInvalidRequest, "missing wrapped")
	}
	n, body, err := parseWrapped(s)
	if err != nil {
		return nil, 0, logical.Errorf(logical.ErrInvalidRequest, "wrapped: %v", err)
	}
	kv := v.version(n)
	if kv == nil {
		return nil, 0, logical.Errorf(logical.ErrInvalidRequest, "wrapped: volume %s has no key version %d", v.Name, n)
	}
	raw, err := kv.Key.unwrap(v.Name, n, body)
	if errors.Is(err, ErrNoOpen) || errors.Is(err, ErrMalformed) {
		return nil, 0, logical.Errorf(logical.ErrInvalidRequest, "wrapped: %v", err)
	}
	if err != nil {
		return nil, 0, err
	}
	if len(raw) != passphraseSize {
		return nil, 0, logical.Errorf(logical.ErrInvalidRequest, "wrapped: %v", ErrMalformed)
	}
	return raw, n, nil
}

// unwrap answers the passphrase inside a wrapped form of this volume.
func (e *engine) unwrap(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	v, err := usable(ctx, req, name)
	if err != nil {
		return nil, err
	}
	raw, n, err := open(v, req.Data)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]any{"passphrase": hex.EncodeToString(raw), "key_version": n}}, nil
}

// rewrap re-seals a wrapped form under the newest key version without
// showing the passphrase.
func (e *engine) rewrap(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	v, err := usable(ctx, req, name)
	if err != nil {
		return nil, err
	}
	raw, _, err := open(v, req.Data)
	if err != nil {
		return nil, err
	}
	latest := v.version(v.Latest)
	if latest == nil {
		return nil, fmt.Errorf("volume %s lacks its latest key version %d", name, v.Latest)
	}
	wrapped, err := latest.Key.wrap(name, latest.Version, raw)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]any{"wrapped": wrapped, "key_version": latest.Version}}, nil
}

// rotate adds a key version; new wrappings use it, older ones still
// unwrap.
func (e *engine) rotate(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, err := usable(ctx, req, name)
	if err != nil {
		return nil, err
	}
	k, err := newKEK()
	if err != nil {
		return nil, err
	}
	v.Latest++
	v.Versions = append(v.Versions, kekVersion{Version: v.Latest, Created: e.now().UTC(), Key: k})
	if err := save(ctx, req.Storage, v); err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]any{"latest_version": v.Latest}}, nil
}

// revoke destroys every key version and records when: no wrapped
// passphrase of this volume can be unwrapped again. Revoking twice keeps
// the first time.
func (e *engine) revoke(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, err := load(ctx, req.Storage, name)
	switch {
	case err != nil:
		return nil, err
	case v == nil:
		return nil, logical.Errorf(logical.ErrNotFound, "no volume named %s", name)
	case v.Revoked != nil:
		return nil, nil
	}
	now := e.now().UTC()
	v.Revoked = &now
	v.Versions = nil
	return nil, save(ctx, req.Storage, v)
}
