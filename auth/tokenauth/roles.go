package tokenauth

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

// Token roles (auth/token/roles/:name) let an operator say what tokens
// made through create/:name may be, so that a less privileged token can
// create them: which policies, orphan or not, period, TTLs, type.

type tokenRole struct {
	Name               string        `json:"name"`
	AllowedPolicies    []string      `json:"allowed_policies"`
	DisallowedPolicies []string      `json:"disallowed_policies"`
	Orphan             bool          `json:"orphan"`
	Renewable          bool          `json:"renewable"`
	PathSuffix         string        `json:"path_suffix"`
	Period             time.Duration `json:"token_period"`
	ExplicitMaxTTL     time.Duration `json:"token_explicit_max_ttl"`
	TTL                time.Duration `json:"token_ttl"`
	TokenType          string        `json:"token_type"`
	BoundCIDRs         []string      `json:"token_bound_cidrs"`
	NoDefaultPolicy    bool          `json:"token_no_default_policy"`
}

func validRoleName(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.@", r)) {
			return false
		}
	}
	return true
}

func (e *Engine) loadTokenRole(ctx context.Context, name string) (*tokenRole, error) {
	if !validRoleName(name) {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "invalid role name")
	}
	entry, err := e.roles.Get(ctx, name)
	if err != nil || entry == nil {
		return nil, err
	}
	var r tokenRole
	if err := json.Unmarshal(entry.Value, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// handleTokenRoles serves auth/token/roles and auth/token/roles/:name.
func (e *Engine) handleTokenRoles(ctx context.Context, name string, r *logical.Request) (*Result, error) {
	if name == "" {
		if r.Operation != logical.ListOperation {
			return nil, logical.Errorf(logical.ErrUnsupportedOperation, "unsupported operation on auth/token/roles")
		}
		keys, err := e.roles.List(ctx, "")
		if err != nil {
			return nil, err
		}
		return &Result{Response: &logical.Response{Data: map[string]any{"keys": keys}}}, nil
	}
	switch r.Operation {
	case logical.ReadOperation:
		role, err := e.loadTokenRole(ctx, name)
		if err != nil || role == nil {
			return nil, err
		}
		return &Result{Response: &logical.Response{Data: map[string]any{
			"name": role.Name, "allowed_policies": role.AllowedPolicies, "disallowed_policies": role.DisallowedPolicies,
			"orphan": role.Orphan, "renewable": role.Renewable, "path_suffix": role.PathSuffix,
			"token_period": int64(role.Period / time.Second), "token_explicit_max_ttl": int64(role.ExplicitMaxTTL / time.Second),
			"token_ttl": int64(role.TTL / time.Second), "token_type": role.TokenType, "token_bound_cidrs": role.BoundCIDRs,
			"token_no_default_policy": role.NoDefaultPolicy,
		}}}, nil
	case logical.DeleteOperation:
		if !validRoleName(name) {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "invalid role name")
		}
		return nil, e.roles.Delete(ctx, name)
	case logical.CreateOperation, logical.UpdateOperation:
		return nil, e.writeTokenRole(ctx, name, r.Data)
	}
	return nil, logical.Errorf(logical.ErrUnsupportedOperation, "unsupported operation on auth/token/roles/%s", name)
}

func (e *Engine) writeTokenRole(ctx context.Context, name string, d map[string]any) error {
	role, err := e.loadTokenRole(ctx, name)
	if err != nil {
		return err
	}
	if role == nil {
		role = &tokenRole{Name: name, Renewable: true, TokenType: "service"}
	}
	for key, dst := range map[string]*[]string{"allowed_policies": &role.AllowedPolicies, "disallowed_policies": &role.DisallowedPolicies, "token_bound_cidrs": &role.BoundCIDRs} {
		if _, ok := d[key]; ok {
			if *dst, err = logical.StringListParam(d, key); err != nil {
				return err
			}
		}
	}
	for key, dst := range map[string]*bool{"orphan": &role.Orphan, "renewable": &role.Renewable, "token_no_default_policy": &role.NoDefaultPolicy} {
		if v, ok, err := logical.BoolParam(d, key); err != nil {
			return err
		} else if ok {
			*dst = v
		}
	}
	for key, dst := range map[string]*time.Duration{"token_period": &role.Period, "period": &role.Period, "token_explicit_max_ttl": &role.ExplicitMaxTTL, "explicit_max_ttl": &role.ExplicitMaxTTL, "token_ttl": &role.TTL} {
		if v, ok, err := logical.DurationParam(d, key); err != nil {
			return err
		} else if ok {
			*dst = v
		}
	}
	if v, err := logical.StringParam(d, "path_suffix"); err != nil {
		return err
	} else if v != "" {
		if strings.Contains(v, "..") || strings.Contains(v, "/") {
			return logical.Errorf(logical.ErrInvalidRequest, "path_suffix cannot contain '..' or '/'")
		}
		role.PathSuffix = v
	}
	if v, err := logical.StringParam(d, "token_type"); err != nil {
		return err
	} else if v != "" {
		if v != "service" && v != "batch" && v != "default-service" && v != "default-batch" {
			return logical.Errorf(logical.ErrInvalidRequest, "token_type must be service or batch")
		}
		role.TokenType = strings.TrimPrefix(v, "default-")
	}
	if slices.Contains(role.AllowedPolicies, "root") {
		return logical.Errorf(logical.ErrInvalidRequest, "a role cannot allow the root policy")
	}
	raw, err := json.Marshal(role)
	if err != nil {
		return err
	}
	return e.roles.Put(ctx, &storage.Entry{Key: name, Value: raw})
}

// applyRole checks a create/:role request against the role and sets what
// the role decides. It returns the policies the token gets.
func applyRole(role *tokenRole, p *createParams) ([]string, error) {
	policies := p.policies
	if len(policies) == 0 {
		policies = slices.Clone(role.AllowedPolicies)
	}
	for _, pol := range policies {
		if pol == "root" {
			return nil, logical.Errorf(logical.ErrPermissionDenied, "a role cannot grant the root policy")
		}
		if slices.Contains(role.DisallowedPolicies, pol) {
			return nil, logical.Errorf(logical.ErrPermissionDenied, "policy %q is disallowed by role %s", pol, role.Name)
		}
		if len(role.AllowedPolicies) > 0 && pol != "default" && !slices.Contains(role.AllowedPolicies, pol) {
			return nil, logical.Errorf(logical.ErrPermissionDenied, "policy %q is not allowed by role %s", pol, role.Name)
		}
	}
	// The role decides the period, never the request.
	p.period = role.Period
	if role.ExplicitMaxTTL > 0 && (p.explicitMaxTTL == 0 || p.explicitMaxTTL > role.ExplicitMaxTTL) {
		p.explicitMaxTTL = role.ExplicitMaxTTL
	}
	if p.ttl == 0 {
		p.ttl = role.TTL
	}
	if !role.Renewable {
		p.renewable = false
	}
	if role.NoDefaultPolicy {
		p.noDefaultPolicy = true
	}
	if p.tokenType == "" {
		p.tokenType = role.TokenType
	}
	return policies, nil
}
