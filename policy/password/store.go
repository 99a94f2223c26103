package password

import (
	"context"
	"fmt"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

// Store keeps password policies (Vault's sys/policies/password) as the
// HCL text they were written in, one entry per name. Its refusals wrap
// logical.ErrInvalidRequest.
type Store struct {
	st storage.Backend
}

// NewStore returns a store over st (a view of its own).
func NewStore(st storage.Backend) *Store { return &Store{st: st} }

func validName(name string) error {
	if name == "" || len(name) > 128 {
		return logical.Errorf(logical.ErrInvalidRequest, "a password policy name of 1 to 128 characters is required")
	}
	if !logical.NameChars(name) {
		return logical.Errorf(logical.ErrInvalidRequest, "invalid password policy name %q: use letters, digits and -_.", name)
	}
	return nil
}

// Names lists the policies.
func (s *Store) Names(ctx context.Context) ([]string, error) { return s.st.List(ctx, "") }

// Read returns a policy's text.
func (s *Store) Read(ctx context.Context, name string) (string, bool, error) {
	if err := validName(name); err != nil {
		return "", false, err
	}
	e, err := s.st.Get(ctx, name)
	if err != nil || e == nil {
		return "", false, err
	}
	return string(e.Value), true, nil
}

// Write checks and stores a policy. One that does not parse (Parse also
// refuses rules no password can meet) is refused with every problem
// named, and nothing is stored.
func (s *Store) Write(ctx context.Context, name, text string) error {
	if err := validName(name); err != nil {
		return err
	}
	if _, err := Parse(text); err != nil {
		return fmt.Errorf("%w: %w", logical.ErrInvalidRequest, err)
	}
	return s.st.Put(ctx, &storage.Entry{Key: name, Value: []byte(text)})
}

// Delete removes a policy.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := validName(name); err != nil {
		return err
	}
	return s.st.Delete(ctx, name)
}

// Generate returns a new password from the named policy.
func (s *Store) Generate(ctx context.Context, name string) (string, error) {
	text, ok, err := s.Read(ctx, name)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", logical.Errorf(logical.ErrInvalidRequest, "no password policy named %q", name)
	}
	p, err := Parse(text)
	if err != nil {
		return "", fmt.Errorf("password policy %q no longer parses: %w", name, err)
	}
	return p.Generate()
}
