package tokenauth

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/token"
)

// Mount is what a login's token takes from the auth method's mount.
type Mount struct {
	// Path is the mount's path ("auth/userpass/").
	Path, Accessor     string
	DefaultTTL, MaxTTL time.Duration
}

// Login turns an auth method's answer to a login into a token, issued
// under path (the login path, which its lease names). A login can never
// grant root. alongside (may be nil) stages the writes that must land with
// a service token in one durable step (token.CreateRequest.Alongside); a
// batch token is stored nowhere and does not call it.
func (e *Engine) Login(ctx context.Context, a *logical.Auth, m Mount, path string, alongside func(*token.Entry) (*storage.Step, error)) (*token.Entry, error) {
	if slices.Contains(a.Policies, "root") {
		return nil, logical.Errorf(logical.ErrPermissionDenied, "a login cannot grant the root policy")
	}
	create := e.store.Create
	switch a.TokenType {
	case "", "service", "default", "default-service":
	case "batch", "default-batch":
		create = e.store.CreateBatch
	default:
		return nil, logical.Errorf(logical.ErrInvalidRequest, "token type %q is not supported", a.TokenType)
	}
	policies := slices.Clone(a.Policies)
	if !a.NoDefaultPolicy {
		policies = append(policies, "default")
	}
	name := strings.TrimSuffix(strings.TrimPrefix(m.Path, "auth/"), "/")
	if a.DisplayName != "" {
		name += "-" + a.DisplayName
	}
	return create(ctx, token.CreateRequest{
		Policies:        policies,
		TTL:             a.TTL,
		ExplicitMaxTTL:  a.MaxTTL,
		Period:          a.Period,
		MountDefaultTTL: m.DefaultTTL,
		MountMaxTTL:     m.MaxTTL,
		NumUses:         a.NumUses,
		Renewable:       a.Renewable,
		DisplayName:     name,
		Path:            path,
		Meta:            a.Metadata,
		BoundCIDRs:      a.BoundCIDRs,
		MountAccessor:   m.Accessor,
		InternalData:    a.InternalData,
		Alongside:       alongside,
	})
}
