// Package volume escrows the keys of encrypted disks (LUKS volumes).
//
// Each volume has a key-encryption key (KEK): 256 random bits that never
// leave Arca. The volume's LUKS passphrase is generated here (512 bits from
// crypto/rand, given as 128 hex digits) and handed out together with its
// wrapped form, the passphrase sealed under the KEK. The host keeps only
// the wrapped form (on the disk's own LUKS2 header) and asks Arca to unwrap
// it when it needs to open the disk; the ACL on volumes/NAME/unwrap decides
// which hosts may, and the audit log records each attempt.
//
// Paths, relative to the mount:
//
//	volumes/            list the volumes
//	volumes/NAME        create (write), read metadata, delete
//	volumes/NAME/passphrase  a new passphrase and its wrapped form
//	volumes/NAME/unwrap      the passphrase inside a wrapped form
//	volumes/NAME/rewrap      a wrapped form re-sealed under the newest KEK version
//	volumes/NAME/rotate      a new KEK version for new wrappings
//	volumes/NAME/revoke      destroy every KEK version for good
//
// Rotation keeps the older KEK versions, so passphrases wrapped before it
// still unwrap; rewrap moves a wrapped form to the newest version without
// showing the passphrase. Revocation destroys all versions and keeps a
// record that the volume was revoked, so that every wrapped copy becomes
// useless and an unwrap fails saying why. Deleting a volume destroys its
// keys and that record.
//
// Wrapped form: "arca:v<version>:" and the base64 (standard, padded) of a
// 12-byte random nonce followed by the AES-256-GCM sealing of the
// passphrase. The associated data binds the volume's name and the version,
// so a wrapped form moved to another volume does not unwrap.
//
// Storage: volume/NAME holds a volume's metadata and KEK versions as JSON,
// inside the barrier like all engine storage. Nothing is cached, so there is
// nothing to invalidate when another node writes.
package volume

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/arca-secrets/arca/logical"
)

// Factory creates a volume engine for a mount.
func Factory(_ context.Context, conf logical.MountConfig) (logical.Engine, error) {
	now := conf.Now
	if now == nil {
		now = time.Now
	}
	return &engine{now: now}, nil
}

type engine struct {
	now func() time.Time
	mu  sync.Mutex // serialises changes to stored volumes (read-modify-write)
}

var (
	_ logical.Engine           = (*engine)(nil)
	_ logical.ExistenceChecker = (*engine)(nil)
)

var errBadName = logical.Errorf(logical.ErrInvalidRequest, "invalid volume name: use letters, digits, '-', '_' and '.' (at most 128)")

// validName accepts names that cannot escape the volume's storage path.
func validName(n string) bool {
	return n != "" && len(n) <= 128 && n != "." && n != ".." && logical.NameChars(n)
}

func isWrite(op logical.Operation) bool {
	return op == logical.UpdateOperation || op == logical.CreateOperation
}

func (e *engine) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	if req.Data == nil {
		req.Data = map[string]any{}
	}
	path := strings.Trim(req.Path, "/")
	op := req.Operation
	first, rest, _ := strings.Cut(path, "/")
	if first != "volumes" {
		return nil, logical.Errorf(logical.ErrUnsupportedPath, "no handler for %s", path)
	}
	if rest == "" {
		if op == logical.ListOperation {
			return e.list(ctx, req)
		}
		return nil, logical.Errorf(logical.ErrUnsupportedOperation, "%s is not supported on volumes/", op)
	}
	name, sub, _ := strings.Cut(rest, "/")
	if !validName(name) {
		return nil, errBadName
	}
	var h func(context.Context, *logical.Request, string) (*logical.Response, error)
	switch {
	case sub == "" && isWrite(op):
		h = e.create
	case sub == "" && op == logical.ReadOperation:
		h = e.read
	case sub == "" && op == logical.DeleteOperation:
		h = e.delete
	case sub == "passphrase" && isWrite(op):
		h = e.passphrase
	case sub == "unwrap" && isWrite(op):
		h = e.unwrap
	case sub == "rewrap" && isWrite(op):
		h = e.rewrap
	case sub == "rotate" && isWrite(op):
		h = e.rotate
	case sub == "revoke" && isWrite(op):
		h = e.revoke
	case sub == "" || sub == "passphrase" || sub == "unwrap" || sub == "rewrap" || sub == "rotate" || sub == "revoke":
		return nil, logical.Errorf(logical.ErrUnsupportedOperation, "%s is not supported on volumes/%s", op, rest)
	default:
		return nil, logical.Errorf(logical.ErrUnsupportedPath, "no handler for volumes/%s", rest)
	}
	return h(ctx, req, name)
}

// Exists lets a policy grant "create" on volumes/NAME without "update";
// every other write acts on a volume that is there, so it is an update.
func (e *engine) Exists(ctx context.Context, req *logical.Request) (bool, error) {
	rest, ok := strings.CutPrefix(strings.Trim(req.Path, "/"), "volumes/")
	if !ok || strings.Contains(rest, "/") || !validName(rest) {
		return true, nil
	}
	v, err := load(ctx, req.Storage, rest)
	return v != nil, err
}
