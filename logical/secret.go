package logical

import (
	"context"
	"time"
)

// Secret describes the lease of a dynamic secret an engine hands out.
type Secret struct {
	// TTL is the lease's first duration and MaxTTL its limit across
	// renewals (zero: no limit beyond the mount's).
	TTL, MaxTTL time.Duration
	// Renewable says whether the lease may be renewed; the engine must
	// then implement SecretRenewer.
	Renewable bool
	// InternalData is kept with the lease and handed back to the engine
	// on renewal and revocation (the database username, the role). It is
	// never shown to clients.
	InternalData map[string]any
}

// SecretRevoker is implemented by engines that hand out leased secrets
// (database credentials): the expiration manager calls it when a lease
// expires or is revoked. An error keeps the lease for a retry, so the
// revocation must be safe to repeat.
type SecretRevoker interface {
	RevokeSecret(ctx context.Context, req *Request, internal map[string]any) error
}

// SecretRenewer is implemented by engines whose leased secrets can be
// renewed: it extends the secret (the database role's validity) to
// expire, which core has already capped by the lease's maximum. An error
// refuses the renewal and leaves the lease as it was.
type SecretRenewer interface {
	RenewSecret(ctx context.Context, req *Request, internal map[string]any, expire time.Time) error
}

// Closer is implemented by engines that hold resources or run background
// work (connection pools, rotation schedules): core calls Close when the
// mount is disabled or the server seals. Storage is unusable afterwards.
type Closer interface {
	Close()
}
