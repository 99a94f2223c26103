// Package lease is the expiration manager: every dynamic secret and every
// token issued by a login has a lease with an expiry; when it expires or is
// revoked, the issuer is called to revoke what it handed out, and a failed
// revocation is retried with backoff without ever losing the lease.
//
// Nothing is loaded at unseal. Leases live in storage with two indexes,
// and the expiry worker reads only the time buckets that are due:
//
//	id/<lease id>                 the lease (JSON); lease ids are paths
//	exp/<minute>/<hash of id>     due in that minute (zero-padded Unix minute)
//	tok/<token accessor>/<hash>   leases created by a token
//
// so unsealing with a million leases costs the same as with none, and
// revoke-prefix walks only the part of id/ under the prefix.
package lease

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// Kind says who revokes a lease.
type Kind string

const (
	// KindToken: the lease of a token issued by a login; revoking it
	// revokes the token.
	KindToken Kind = "token"
	// KindSecret: a dynamic secret; revoking it calls the engine.
	KindSecret Kind = "secret"
)

// Lease is one lease.
type Lease struct {
	ID            string         `json:"id"`
	Kind          Kind           `json:"kind"`
	Path          string         `json:"path"`
	MountAccessor string         `json:"mount_accessor,omitempty"`
	TokenAccessor string         `json:"token_accessor,omitempty"`
	IssueTime     time.Time      `json:"issue_time"`
	ExpireTime    time.Time      `json:"expire_time"`
	MaxExpireTime time.Time      `json:"max_expire_time,omitempty"`
	LastRenewal   time.Time      `json:"last_renewal,omitempty"`
	Renewable     bool           `json:"renewable"`
	InternalData  map[string]any `json:"internal_data,omitempty"`
	// Attempts counts failed revocations; RetryAt is when the next one is.
	Attempts int       `json:"attempts,omitempty"`
	RetryAt  time.Time `json:"retry_at,omitempty"`

	// raw is the stored form the lease was read from, if it was: a
	// removal compares it with storage instead of decoding again.
	raw []byte
}

// TTL is the time left at now.
func (l *Lease) TTL(now time.Time) time.Duration { return max(0, l.ExpireTime.Sub(now)) }

func idHash(id string) string {
	s := sha256.Sum256([]byte(id))
	return hex.EncodeToString(s[:16])
}

// bucket names the minute t falls in, sortable as text.
func bucket(t time.Time) string { return fmt.Sprintf("%012d", t.Unix()/60) }

// backoff is the wait before revocation attempt n+1: 5s doubling to 1h.
func backoff(n int) time.Duration {
	d := 5 * time.Second
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}
