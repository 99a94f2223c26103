// Package logical holds the request and response types that pass between
// core and the engines (secrets engines and auth methods). An engine answers
// requests for the paths under its mount against its own storage view; it
// knows nothing of tokens, policies, audit or HTTP.
package logical

import (
	"context"
	"crypto/x509"
	"time"

	"github.com/arca-secrets/arca/storage"
)

// Operation is what a request does to a path.
type Operation string

const (
	ReadOperation   Operation = "read"
	CreateOperation Operation = "create"
	UpdateOperation Operation = "update"
	PatchOperation  Operation = "patch"
	DeleteOperation Operation = "delete"
	ListOperation   Operation = "list"
)

// Request is one call to an engine.
type Request struct {
	Operation Operation
	// Path is relative to the mount point, without a leading slash
	// ("data/app" for a request to "secret/data/app").
	Path string
	// Data is the decoded JSON body (for writes) or query parameters (for
	// reads and lists), never nil.
	Data map[string]any
	// Storage is the engine's own view of the barrier.
	Storage storage.Backend
	// MountPoint is where the engine is mounted, with a trailing slash.
	MountPoint string
	// ClientAddr is the client's IP address (for CIDR bindings).
	ClientAddr string
	// ClientCertificates is the chain the client presented in the TLS
	// handshake, leaf first, unverified (the cert auth method verifies it
	// against its own trust list); nil without TLS or a certificate.
	ClientCertificates []*x509.Certificate
	// WrapTTL is the response-wrapping TTL the client asked for (zero:
	// none); policies may require or bound it.
	WrapTTL time.Duration
	// DisplayName is the calling token's display name (for usernames that
	// say who asked); empty for logins.
	DisplayName string
	// TokenHash names the calling token's own data without being the
	// token (its storage hash, an HMAC), for engines whose data belongs
	// to one token (the cubbyhole); empty for logins and batch tokens.
	TokenHash string
	// MountDefaultTTL and MountMaxTTL are the mount's lease TTLs (zero:
	// not tuned), for engines that decide a secret's TTL themselves.
	MountDefaultTTL, MountMaxTTL time.Duration
}

// Response is an engine's answer. A nil *Response with a nil error means
// "nothing here" and becomes 404 for reads and 204 for writes.
type Response struct {
	Data     map[string]any
	Warnings []string
	// NotFound marks a response that carries data but still means "not
	// here" (404): KV v2 answers a read of a deleted or destroyed version
	// with its metadata and a 404, and clients rely on both.
	NotFound bool
	// Auth is set by an auth method's login: core creates a token from it.
	Auth *Auth
	// Secret is set by engines that hand out leased secrets: core
	// registers a lease for it and answers with its lease_id.
	Secret *Secret
}

// Engine answers requests for the paths under one mount.
type Engine interface {
	HandleRequest(ctx context.Context, req *Request) (*Response, error)
}

// Canonicalizer is implemented by engines whose handlers treat several
// spellings of a path as one (case-insensitive names). Core calls it before
// the ACL check and hands the engine only its output, so a policy that
// denies "users/bob" also governs "users/BOB". It must be idempotent and
// change nothing but the spelling of names.
type Canonicalizer interface {
	CanonicalPath(path string) string
}

// ActiveWorker is implemented by engines with background work that only
// the active node may do (rotating credentials on a schedule). Core runs
// RunActive in its own goroutine when the node becomes active, or when
// the engine is mounted on an active node, and cancels ctx when the node
// seals or steps down; RunActive returns when ctx ends.
type ActiveWorker interface {
	RunActive(ctx context.Context)
}

// Invalidator is implemented by engines that keep in memory what they
// read from storage (transit's keys). Core calls Invalidate with a key
// relative to the engine's storage view when another node changed it, so
// that the next request reads storage again; an empty key means
// everything may have changed.
type Invalidator interface {
	Invalidate(ctx context.Context, key string)
}

// MountConfig is what an engine is created with when it is mounted or the
// mount table is loaded at unseal.
type MountConfig struct {
	// Options are the mount's options, such as {"version": "2"} for kv.
	Options map[string]string
	// Storage is the engine's own view of the barrier.
	Storage storage.Backend
	// RevokeLeases revokes every lease under prefix (relative to the
	// mount) and what they stand for, such as every token an auth method
	// issued for one role. It may only be called while handling a request.
	RevokeLeases func(ctx context.Context, prefix string) (int, error)
	// GeneratePassword returns a password from the named password policy
	// (sys/policies/password); an unknown policy is an invalid request.
	GeneratePassword func(ctx context.Context, policy string) (string, error)
	// Now is the clock every decision about time reads (expiry, schedules,
	// creation times): core's, never nil when core mounts an engine.
	// Engines fall back to time.Now when it is nil.
	Now func() time.Time
}

// Factory creates an engine for a mount.
type Factory func(ctx context.Context, conf MountConfig) (Engine, error)
