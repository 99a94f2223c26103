// Package kv is the key/value secrets engine in both of Vault's flavours,
// answering the same paths with the same JSON shapes so that Vault and
// OpenBao clients and CLIs work unchanged.
//
// Version 1 keeps one value per path: read, write, delete and list.
//
// Version 2 keeps a history of versions per key with check-and-set, soft
// delete, undelete, destroy, per-key metadata and a mount configuration,
// under the paths config, data/, metadata/, delete/, undelete/, destroy/
// and subkeys/.
//
// # Storage layout
//
// Everything lives in the mount's private storage view (already encrypted by
// the barrier), as JSON:
//
//	v1:  data/<path>                 the secret's object, as written
//	v2:  config                      mount configuration
//	     meta/<path>                 one key's metadata, including a small
//	                                 record per live version
//	     versions/<hash>/<n>         version n's data; <hash> is the hex
//	                                 SHA-256 of the key's path
//
// Each version's data is its own record, so a long history costs one small
// metadata entry per version instead of one ever-growing blob rewritten on
// every write. Versions live under a hash of the path rather than the path
// itself, so that key "a" and key "a/1" can never collide and listing
// metadata never sees version records. Metadata is written last and is the
// commit point: a version record without metadata naming it is never served,
// and data is removed (destroy, pruning, metadata delete) before the
// metadata that names it, so a crash can leave a stale name but never keep
// data that was meant to be gone.
package kv

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

// Factory creates a kv engine. conf.Options["version"] selects the flavour:
// "1" (or empty) or "2".
func Factory(ctx context.Context, conf logical.MountConfig) (logical.Engine, error) {
	switch v := conf.Options["version"]; v {
	case "", "1":
		return &v1Engine{storage: conf.Storage}, nil
	case "2":
		now := conf.Now
		if now == nil {
			now = time.Now
		}
		return &v2Engine{storage: conf.Storage, now: now}, nil
	default:
		return nil, logical.Errorf(logical.ErrInvalidRequest, "kv: unsupported version %q: must be 1 or 2", v)
	}
}

// backendFor returns the request's storage view, or the mount's when the
// request carries none.
func backendFor(req *logical.Request, fallback storage.Backend) storage.Backend {
	if req.Storage != nil {
		return req.Storage
	}
	return fallback
}

// checkKey rejects secret paths that cannot name a storage entry: empty,
// a leading or trailing "/", empty segments, and "." or ".." segments.
func checkKey(key string) error {
	if key == "" {
		return logical.Errorf(logical.ErrInvalidRequest, "missing secret path")
	}
	if strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
		return logical.Errorf(logical.ErrInvalidRequest, "invalid secret path: must not begin or end with \"/\"")
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "":
			return logical.Errorf(logical.ErrInvalidRequest, "invalid secret path: empty path segment")
		case ".", "..":
			return logical.Errorf(logical.ErrInvalidRequest, "invalid secret path: %q segment", seg)
		}
	}
	return nil
}

// checkPrefix validates a list prefix: empty (the root) or a valid key
// followed by "/".
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	trimmed, ok := strings.CutSuffix(prefix, "/")
	if !ok {
		return logical.Errorf(logical.ErrInvalidRequest, "invalid list path: must end with \"/\"")
	}
	return checkKey(trimmed)
}

func unsupportedOperation(op logical.Operation, path string) error {
	return logical.Errorf(logical.ErrUnsupportedOperation, "unsupported operation %q on path %q", op, path)
}

func unsupportedPath(path string) error {
	return logical.Errorf(logical.ErrUnsupportedPath, "unsupported path %q", path)
}

// storageErr wraps a storage failure with what was being done. The path is
// not included: it is known to the caller and may be sensitive in logs.
func storageErr(doing string, err error) error {
	return fmt.Errorf("kv: %s: %w", doing, err)
}
