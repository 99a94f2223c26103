package core

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/arca-secrets/arca/policy"
	"github.com/arca-secrets/arca/token"
)

// Caller is who made a request, after the token and policy checks.
type Caller struct {
	Token *token.Entry
	ACL   *policy.ACL
}

// sudoPaths need the sudo capability besides the operation's own, as
// Vault's root-protected paths do. Members are matched on canonical
// paths, so no spelling (a trailing slash) falls outside; a directory
// whose own requests need sudo (revoke-prefix with an empty prefix, a
// listing) is a member itself beside its "/*".
var sudoPaths = policy.NewPathSet(
	"sys/seal", "sys/step-down", "sys/rotate", "sys/auth/*", "sys/audit", "sys/audit/*",
	"sys/leases/revoke-prefix", "sys/leases/revoke-prefix/*",
	"sys/leases/revoke-force", "sys/leases/revoke-force/*",
	"sys/leases/lookup/*",
	"auth/token/accessors", "auth/token/revoke-orphan", "auth/token/tidy",
	"sys/rekey/*", "sys/rekey-recovery-key/*", "sys/storage/raft/*", "sys/generate-root/*", "sys/generate-root-token/*",
)

// needsSudo says whether op on path needs sudo. A listing reads what is
// under its directory, so it needs sudo where the entries do ("LIST
// sys/leases/lookup/" as much as "sys/leases/lookup/db/").
func needsSudo(path, op string) bool {
	if sudoPaths.Contains(path) {
		return true
	}
	return op == "list" && sudoPaths.Contains(strings.TrimSuffix(path, "/")+"/entry")
}

// authorizeEntry checks that te may perform op on path with params, from
// clientAddr, and counts one use of the token.
func (c *Core) authorizeEntry(ctx context.Context, st *unsealed, te *token.Entry, path, op string, params map[string]any, clientAddr string) (*Caller, error) {
	if !cidrAllows(te.BoundCIDRs, clientAddr) {
		return nil, fmt.Errorf("%w: the token cannot be used from this address", ErrPermissionDenied)
	}
	acl, err := c.aclFor(ctx, te.Policies)
	if err != nil {
		return nil, err
	}
	d := acl.Check(path, op, params)
	if d.Allowed && !d.WrapTTLAllowed(wrapTTL(ctx)) {
		return nil, fmt.Errorf("%w: the policy requires response wrapping with a TTL between %s and %s", ErrPermissionDenied, d.MinWrappingTTL, d.MaxWrappingTTL)
	}
	if !d.Allowed || (needsSudo(path, op) && !d.Sudo) {
		c.log.Debug("request refused by policy", "path", path, "operation", op, "accessor", te.Accessor)
		return nil, ErrPermissionDenied
	}
	if err := st.tokens.Use(ctx, te); err != nil {
		if errors.Is(err, token.ErrNotFound) {
			return nil, ErrPermissionDenied
		}
		return nil, err
	}
	return &Caller{Token: te, ACL: acl}, nil
}

// cidrAllows reports whether addr is inside one of cidrs (or cidrs is
// empty). An unparsable address is refused when there are bindings.
func cidrAllows(cidrs []string, addr string) bool {
	if len(cidrs) == 0 {
		return true
	}
	ip := net.ParseIP(addr)
	if ip == nil {
		return false
	}
	for _, c := range cidrs {
		if !strings.Contains(c, "/") {
			if other := net.ParseIP(c); other != nil && other.Equal(ip) {
				return true
			}
			continue
		}
		if _, n, err := net.ParseCIDR(c); err == nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

// Capabilities returns what the token may do on each path.
func (c *Core) Capabilities(ctx context.Context, te *token.Entry, paths []string) (map[string][]string, error) {
	st, release, err := c.enter()
	if err != nil {
		return nil, err
	}
	defer release()
	acl, err := c.aclFor(ctx, te.Policies)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(paths))
	for _, p := range paths {
		// Asked of the spelling the pipeline would judge: "Polmgr" is
		// answered for polmgr.
		out[p] = acl.Capabilities(st.foldNames(strings.TrimPrefix(p, "/")))
	}
	return out, nil
}

type wrapTTLKey struct{}

// WithWrapTTL records on ctx the wrapping TTL a request asked for, for the
// policy's min_wrapping_ttl and max_wrapping_ttl.
func WithWrapTTL(ctx context.Context, ttl time.Duration) context.Context {
	return context.WithValue(ctx, wrapTTLKey{}, ttl)
}

func wrapTTL(ctx context.Context) time.Duration {
	d, _ := ctx.Value(wrapTTLKey{}).(time.Duration)
	return d
}
