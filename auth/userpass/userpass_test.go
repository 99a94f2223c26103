package userpass

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage/inmem"
)

func do(t *testing.T, e *engine, st *inmem.Backend, op logical.Operation, path string, data map[string]any) (*logical.Response, error) {
	t.Helper()
	if data == nil {
		data = map[string]any{}
	}
	return e.HandleRequest(context.Background(), &logical.Request{Operation: op, Path: path, Data: data, Storage: st})
}

func TestPasswordNeverStoredInPlaintext(t *testing.T) {
	e, st := &engine{}, inmem.New()
	const pw = "plaintext-password-123"
	if _, err := do(t, e, st, logical.UpdateOperation, "users/alice", map[string]any{"password": pw, "policies": []any{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	raw, _ := st.Get(context.Background(), "user/alice")
	if raw == nil || strings.Contains(string(raw.Value), pw) {
		t.Fatal("the password is stored in plaintext (or the user is missing)")
	}
	resp, err := do(t, e, st, logical.UpdateOperation, "login/alice", map[string]any{"password": pw})
	if err != nil || resp.Auth == nil || strings.Join(resp.Auth.Policies, ",") != "a,b" {
		t.Fatalf("login: %+v, %v", resp, err)
	}
}

func TestBadInput(t *testing.T) {
	e, st := &engine{}, inmem.New()
	cases := []struct {
		name string
		path string
		data map[string]any
	}{
		{"new user without password", "users/bob", map[string]any{"policies": "a"}},
		{"empty password", "users/bob", map[string]any{"password": ""}},
		{"bad name", "users/Bob!", map[string]any{"password": "x"}},
		{"bad ttl", "users/bob", map[string]any{"password": "x", "token_ttl": "soon"}},
		{"bad token type", "users/bob", map[string]any{"password": "x", "token_type": "gold"}},
		{"policies for missing user", "users/nobody/policies", map[string]any{"policies": "a"}},
		{"password for missing user", "users/nobody/password", map[string]any{"password": "a"}},
		{"login with no password", "login/bob", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := do(t, e, st, logical.UpdateOperation, tc.path, tc.data)
			if !errors.Is(err, logical.ErrInvalidRequest) {
				t.Fatalf("got %v, want ErrInvalidRequest", err)
			}
		})
	}
	if keys, _ := st.List(context.Background(), "user/"); len(keys) != 0 {
		t.Fatalf("bad input stored users: %v", keys)
	}
}
