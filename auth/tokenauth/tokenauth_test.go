package tokenauth

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/inmem"
	"github.com/arca-secrets/arca/token"
)

// failingStorage refuses every write once broken is set.
type failingStorage struct {
	storage.Backend
	broken atomic.Bool
}

var errDisk = errors.New("bolt: disk I/O error at page 4711")

func (f *failingStorage) Put(ctx context.Context, e *storage.Entry) error {
	if f.broken.Load() {
		return errDisk
	}
	return f.Backend.Put(ctx, e)
}

func newEngine(t *testing.T) (*Engine, *failingStorage, *token.Entry) {
	t.Helper()
	ctx := context.Background()
	fs := &failingStorage{Backend: inmem.New()}
	store, err := token.Open(ctx, token.Config{Storage: storage.NewView(fs, "token/")})
	if err != nil {
		t.Fatal(err)
	}
	parent, err := store.Create(ctx, token.CreateRequest{Policies: []string{"ci", "default"}, DisplayName: "parent"})
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{Store: store, Roles: storage.NewView(fs, "roles/")}), fs, parent
}

func write(e *Engine, caller *token.Entry, path string, data map[string]any) (*Result, error) {
	return e.Handle(context.Background(), Caller{Token: caller}, &logical.Request{Operation: logical.UpdateOperation, Path: path, Data: data})
}

// A role with no allowed_policies gives only what the caller holds
// (issue 12, item 3), as Vault does.
func TestRoleWithoutAllowedPoliciesCannotWiden(t *testing.T) {
	e, _, parent := newEngine(t)
	rootish := &token.Entry{Policies: []string{"root"}}
	if _, err := write(e, rootish, "roles/ci", map[string]any{"orphan": false}); err != nil {
		t.Fatal(err)
	}
	if res, err := write(e, parent, "create/ci", map[string]any{"policies": []any{"admin"}}); !errors.Is(err, logical.ErrPermissionDenied) {
		t.Fatalf("create/ci with a policy the caller lacks: %+v, %v; want permission denied", res, err)
	}
	res, err := write(e, parent, "create/ci", map[string]any{"policies": []any{"ci"}})
	if err != nil || res.Issued == nil || !strings.Contains(strings.Join(res.Issued.Policies, ","), "ci") {
		t.Fatalf("create/ci with the caller's own policy: %+v, %v", res, err)
	}
}

// A storage failure is not the client's fault: it must not become a 400
// that shows the storage's text.
func TestStorageFailureIsNotABadRequest(t *testing.T) {
	e, fs, parent := newEngine(t)
	fs.broken.Store(true)
	_, err := write(e, parent, "create", map[string]any{"policies": []any{"ci"}})
	if err == nil {
		t.Fatal("create succeeded on broken storage")
	}
	if errors.Is(err, logical.ErrInvalidRequest) {
		t.Fatalf("storage failure answered as a bad request: %v", err)
	}
	if !errors.Is(err, errDisk) {
		t.Fatalf("the storage error is lost for the log: %v", err)
	}
}
