package kv

import (
	"context"
	"strings"

	"github.com/arca-secrets/arca/logical"
)

// Exists tells core whether a write creates or updates, so that policies
// can grant "create" without "update" (write once) as Vault's KV does.
func (e *v1Engine) Exists(ctx context.Context, req *logical.Request) (bool, error) {
	if checkKey(req.Path) != nil {
		return false, nil
	}
	entry, err := backendFor(req, e.storage).Get(ctx, v1Prefix+req.Path)
	if err != nil {
		return false, storageErr("checking secret", err)
	}
	return entry != nil, nil
}

// Exists: data/ and metadata/ exist when the key has metadata; every other
// path (config, delete/, undelete/, destroy/) changes something that is
// there, so it is an update.
func (e *v2Engine) Exists(ctx context.Context, req *logical.Request) (bool, error) {
	top, key, ok := strings.Cut(req.Path, "/")
	if !ok || (top != "data" && top != "metadata") || checkKey(key) != nil {
		return true, nil
	}
	// Presence is enough; decoding the metadata would only cost time on
	// every write.
	entry, err := backendFor(req, e.storage).Get(ctx, metaPrefix+key)
	if err != nil {
		return false, storageErr("reading metadata", err)
	}
	return entry != nil, nil
}

var (
	_ logical.ExistenceChecker = (*v1Engine)(nil)
	_ logical.ExistenceChecker = (*v2Engine)(nil)
)
