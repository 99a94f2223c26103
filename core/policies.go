package core

import (
	"context"
	"fmt"
	"github.com/arca-secrets/arca/events"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/arca-secrets/arca/policy"
	"github.com/arca-secrets/arca/storage"
)

const policyPrefix = "sys/policy/"

// defaultPolicyText is the "default" policy written at init
// (policy.DefaultText); operators may edit it.
const defaultPolicyText = policy.DefaultText

// wrappingACLPolicy is what a wrapping token may do (policy.ResponseWrapping).
var wrappingACLPolicy = policy.ResponseWrapping()

// policyCache holds parsed policies and compiled ACLs. Any policy change
// drops it whole: changes are rare, requests are many.
type policyCache struct {
	mu     sync.RWMutex
	parsed map[string]*policy.Policy
	acls   map[string]*policy.ACL
}

func (pc *policyCache) reset() {
	pc.mu.Lock()
	pc.parsed, pc.acls = nil, nil
	pc.mu.Unlock()
}

func writeDefaultPolicy(ctx context.Context, store storage.Backend) error {
	return store.Put(ctx, &storage.Entry{Key: policyPrefix + "default", Value: []byte(defaultPolicyText)})
}

// aclFor compiles (once) the ACL for a set of policy names. Unknown names
// grant nothing, as in Vault.
func (c *Core) aclFor(ctx context.Context, names []string) (*policy.ACL, error) {
	if slices.Contains(names, "root") {
		return policy.RootACL(), nil
	}
	sorted := slices.Clone(names)
	sort.Strings(sorted)
	key := strings.Join(sorted, "\x00")
	c.policies.mu.RLock()
	acl := c.policies.acls[key]
	c.policies.mu.RUnlock()
	if acl != nil {
		return acl, nil
	}
	var ps []*policy.Policy
	for _, n := range sorted {
		p, err := c.loadPolicy(ctx, n)
		if err != nil {
			return nil, err
		}
		if p != nil {
			ps = append(ps, p)
		}
	}
	acl = policy.NewACL(ps...)
	c.policies.mu.Lock()
	if c.policies.acls == nil {
		c.policies.acls = map[string]*policy.ACL{}
	}
	c.policies.acls[key] = acl
	c.policies.mu.Unlock()
	return acl, nil
}

func (c *Core) loadPolicy(ctx context.Context, name string) (*policy.Policy, error) {
	if name == wrappingPolicy {
		return wrappingACLPolicy, nil
	}
	c.policies.mu.RLock()
	p, ok := c.policies.parsed[name]
	c.policies.mu.RUnlock()
	if ok {
		return p, nil
	}
	e, err := c.barrier.Get(ctx, policyPrefix+name)
	if err != nil {
		return nil, fmt.Errorf("reading policy %s: %w", name, err)
	}
	if e != nil {
		if p, err = policy.Parse(name, string(e.Value)); err != nil {
			return nil, fmt.Errorf("stored policy %s: %w", name, err)
		}
	}
	c.policies.mu.Lock()
	if c.policies.parsed == nil {
		c.policies.parsed = map[string]*policy.Policy{}
	}
	c.policies.parsed[name] = p
	c.policies.mu.Unlock()
	return p, nil
}

// NormalizePolicyName lowercases a policy name and checks it.
func NormalizePolicyName(name string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" || len(n) > 128 {
		return "", fmt.Errorf("%w: a policy name must be 1 to 128 characters", ErrInvalidRequest)
	}
	if n == "." || n == ".." {
		return "", fmt.Errorf("%w: %q is not a policy name", ErrInvalidRequest, n)
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.@", r)) {
			return "", fmt.Errorf("%w: policy name %q has a character outside [a-z0-9._@-]", ErrInvalidRequest, name)
		}
	}
	return n, nil
}

// PolicyNames lists the ACL policies, "root" included.
func (c *Core) PolicyNames(ctx context.Context) ([]string, error) {
	if err := c.requireUnsealed(); err != nil {
		return nil, err
	}
	names, err := c.barrier.List(ctx, policyPrefix)
	if err != nil {
		return nil, err
	}
	return append(names, "root"), nil
}

// ReadPolicy returns a policy's text; ErrNotFound... via logical.
func (c *Core) ReadPolicy(ctx context.Context, name string) (string, bool, error) {
	if err := c.requireUnsealed(); err != nil {
		return "", false, err
	}
	n, err := NormalizePolicyName(name)
	if err != nil {
		return "", false, err
	}
	if n == "root" {
		return "", true, nil
	}
	e, err := c.barrier.Get(ctx, policyPrefix+n)
	if err != nil || e == nil {
		return "", false, err
	}
	return string(e.Value), true, nil
}

// WritePolicy parses and stores a policy. A malformed policy is refused
// with the line of the problem, and nothing is stored.
func (c *Core) WritePolicy(ctx context.Context, name, text string) error {
	if err := c.requireUnsealed(); err != nil {
		return err
	}
	n, err := NormalizePolicyName(name)
	if err != nil {
		return err
	}
	if n == "root" || n == wrappingPolicy {
		return fmt.Errorf("%w: the %s policy cannot be changed", ErrInvalidRequest, n)
	}
	if _, err := policy.Parse(n, text); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	if err := c.barrier.Put(ctx, &storage.Entry{Key: policyPrefix + n, Value: []byte(text)}); err != nil {
		return err
	}
	c.policies.reset()
	c.events.Publish(events.PolicyChanged(n, false))
	c.log.Info("policy written", "name", n)
	return nil
}

// DeletePolicy removes a policy; root and default cannot be removed.
func (c *Core) DeletePolicy(ctx context.Context, name string) error {
	if err := c.requireUnsealed(); err != nil {
		return err
	}
	n, err := NormalizePolicyName(name)
	if err != nil {
		return err
	}
	if n == "root" || n == "default" {
		return fmt.Errorf("%w: the %s policy cannot be deleted", ErrInvalidRequest, n)
	}
	if err := c.barrier.Delete(ctx, policyPrefix+n); err != nil {
		return err
	}
	c.policies.reset()
	c.events.Publish(events.PolicyChanged(n, true))
	c.log.Info("policy deleted", "name", n)
	return nil
}

func (c *Core) requireUnsealed() error {
	if c.Sealed() {
		return ErrSealed
	}
	return nil
}
