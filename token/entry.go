// Package token is the token store: service tokens with policies, TTLs,
// use counts and a parent/child tree, looked up by token or accessor.
//
// A token is never stored. Entries are keyed by HMAC-SHA256(salt, token)
// with a salt kept in the barrier, so neither storage nor a backup can
// replay a token; the lookup compares hashes in constant time. Accessors
// (random, not secret-equivalent) index entries for lookup-accessor and
// revoke-accessor, and the child index lets a revocation walk the tree.
//
// Storage layout under the store's view:
//
//	salt                       32 random bytes
//	id/<hash>                  the entry (JSON)
//	accessor/<accessor>        the hash of the token it names
//	parent/<accessor>/<child>  one key per child token
//
// Time comes from the injected clock; an expired token is refused on use
// and removed by Tidy.
package token

import (
	"slices"
	"time"
)

// Entry is what a token grants. ID is set only on the copy returned to the
// token's creator and on lookups by token; it is never stored.
type Entry struct {
	ID             string            `json:"-"`
	Hash           string            `json:"hash"`
	Accessor       string            `json:"accessor"`
	Parent         string            `json:"parent,omitempty"` // parent's accessor
	Policies       []string          `json:"policies"`
	Path           string            `json:"path"`
	DisplayName    string            `json:"display_name"`
	Meta           map[string]string `json:"meta,omitempty"`
	NumUses        int               `json:"num_uses"`
	CreationTime   time.Time         `json:"creation_time"`
	TTL            time.Duration     `json:"ttl"`
	ExplicitMaxTTL time.Duration     `json:"explicit_max_ttl"`
	Period         time.Duration     `json:"period"`
	ExpireTime     time.Time         `json:"expire_time"` // zero: never
	// MaxExpireTime is the latest a renewal may push ExpireTime to.
	MaxExpireTime time.Time `json:"max_expire_time"`
	Renewable     bool      `json:"renewable"`
	Orphan        bool      `json:"orphan"`
	Type          string    `json:"type"`
	BoundCIDRs    []string  `json:"bound_cidrs,omitempty"`
	Role          string    `json:"role,omitempty"`
	// MountAccessor names the auth mount that issued the token, so that
	// disabling the mount revokes its tokens.
	MountAccessor string            `json:"mount_accessor,omitempty"`
	InternalData  map[string]string `json:"internal_data,omitempty"`
}

// IsRoot reports whether the entry carries the root policy.
func (e *Entry) IsRoot() bool { return slices.Contains(e.Policies, "root") }

// Expired reports whether the token has expired at now.
func (e *Entry) Expired(now time.Time) bool {
	return !e.ExpireTime.IsZero() && !now.Before(e.ExpireTime)
}

// Remaining is the time left at now (0 when it never expires).
func (e *Entry) Remaining(now time.Time) time.Duration {
	if e.ExpireTime.IsZero() {
		return 0
	}
	return max(0, e.ExpireTime.Sub(now))
}
