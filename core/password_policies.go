package core

import (
	"context"
	"fmt"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/policy/password"
	"github.com/arca-secrets/arca/storage"
)

// passwordPolicyPrefix holds password policies (Vault's
// sys/policies/password), their HCL text as written.
const passwordPolicyPrefix = "sys/password-policy/"

func validPasswordPolicyName(name string) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("%w: a password policy name of 1 to 128 characters is required", ErrInvalidRequest)
	}
	if !logical.NameChars(name) {
		return fmt.Errorf("%w: invalid password policy name %q: use letters, digits and -_.", ErrInvalidRequest, name)
	}
	return nil
}

// PasswordPolicyNames lists the password policies.
func (c *Core) PasswordPolicyNames(ctx context.Context) ([]string, error) {
	if err := c.requireUnsealed(); err != nil {
		return nil, err
	}
	return c.barrier.List(ctx, passwordPolicyPrefix)
}

// ReadPasswordPolicy returns a password policy's text.
func (c *Core) ReadPasswordPolicy(ctx context.Context, name string) (string, bool, error) {
	if err := c.requireUnsealed(); err != nil {
		return "", false, err
	}
	return c.readPasswordPolicy(ctx, name)
}

// readPasswordPolicy reads a policy's text without the core lock (the
// barrier refuses when sealed).
func (c *Core) readPasswordPolicy(ctx context.Context, name string) (string, bool, error) {
	if err := validPasswordPolicyName(name); err != nil {
		return "", false, err
	}
	e, err := c.barrier.Get(ctx, passwordPolicyPrefix+name)
	if err != nil || e == nil {
		return "", false, err
	}
	return string(e.Value), true, nil
}

// WritePasswordPolicy checks and stores a password policy. A policy that
// does not parse (Parse also refuses rules no password can meet) is
// refused with every problem named, and nothing is stored.
func (c *Core) WritePasswordPolicy(ctx context.Context, name, text string) error {
	if err := c.requireUnsealed(); err != nil {
		return err
	}
	if err := validPasswordPolicyName(name); err != nil {
		return err
	}
	if _, err := password.Parse(text); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	if err := c.barrier.Put(ctx, &storage.Entry{Key: passwordPolicyPrefix + name, Value: []byte(text)}); err != nil {
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
	if err := validPasswordPolicyName(name); err != nil {
		return err
	}
	if err := c.barrier.Delete(ctx, passwordPolicyPrefix+name); err != nil {
		return err
	}
	c.log.Info("password policy deleted", "name", name)
	return nil
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
	text, ok, err := c.readPasswordPolicy(ctx, name)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%w: no password policy named %q", ErrInvalidRequest, name)
	}
	p, err := password.Parse(text)
	if err != nil {
		return "", fmt.Errorf("password policy %q no longer parses: %w", name, err)
	}
	return p.Generate()
}
