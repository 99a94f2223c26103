package core

import (
	"context"

	"github.com/arca-secrets/arca/policy/password"
	"github.com/arca-secrets/arca/storage"
)

// passwordPolicyPrefix holds password policies (policy/password.Store).
const passwordPolicyPrefix = "sys/password-policy/"

func (c *Core) passwordPolicies() *password.Store {
	return password.NewStore(storage.NewView(c.barrier, passwordPolicyPrefix))
}

// PasswordPolicyNames lists the password policies.
func (c *Core) PasswordPolicyNames(ctx context.Context) ([]string, error) {
	if err := c.requireUnsealed(); err != nil {
		return nil, err
	}
	return c.passwordPolicies().Names(ctx)
}

// ReadPasswordPolicy returns a password policy's text.
func (c *Core) ReadPasswordPolicy(ctx context.Context, name string) (string, bool, error) {
	if err := c.requireUnsealed(); err != nil {
		return "", false, err
	}
	return c.passwordPolicies().Read(ctx, name)
}

// WritePasswordPolicy checks and stores a password policy.
func (c *Core) WritePasswordPolicy(ctx context.Context, name, text string) error {
	if err := c.requireUnsealed(); err != nil {
		return err
	}
	if err := c.passwordPolicies().Write(ctx, name, text); err != nil {
		return err
	}
	c.log.Info("password policy written", "name", name)
	return nil
}

// DeletePasswordPolicy removes a password policy.
func (c *Core) DeletePasswordPolicy(ctx context.Context, name string) error {
	if err := c.requireUnsealed(); err != nil {
		return err
	}
	return c.passwordPolicies().Delete(ctx, name)
}

// GeneratePassword returns a new password from the named policy.
func (c *Core) GeneratePassword(ctx context.Context, name string) (string, error) {
	if err := c.requireUnsealed(); err != nil {
		return "", err
	}
	return c.passwordFromPolicy(ctx, name)
}

// passwordFromPolicy is GeneratePassword for engines (their MountConfig
// hook): it takes no core lock, since a request already holds one, and
// the barrier refuses when sealed.
func (c *Core) passwordFromPolicy(ctx context.Context, name string) (string, error) {
	return c.passwordPolicies().Generate(ctx, name)
}
