package core_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/secmem"
	"github.com/arca-secrets/arca/secrets/kv"
	"github.com/arca-secrets/arca/secrets/transit"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/inmem"
)

// keyLog is a backend that notes every key written or deleted through it:
// what a Raft follower learns from the log it applies.
type keyLog struct {
	storage.Backend
	mu   sync.Mutex
	keys []string
}

func (l *keyLog) note(key string) {
	l.mu.Lock()
	l.keys = append(l.keys, key)
	l.mu.Unlock()
}

func (l *keyLog) Put(ctx context.Context, e *storage.Entry) error {
	l.note(e.Key)
	return l.Backend.Put(ctx, e)
}

func (l *keyLog) Delete(ctx context.Context, key string) error {
	l.note(key)
	return l.Backend.Delete(ctx, key)
}

// take returns the keys noted since the last call.
func (l *keyLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.keys
	l.keys = nil
	return out
}

// twoCores returns a writer core and a reader core over one storage, both
// unsealed, the writer's keys noted, and the root token.
func twoCores(t *testing.T) (writer, reader *core.Core, log *keyLog, root string) {
	t.Helper()
	ctx := context.Background()
	shared := inmem.New()
	log = &keyLog{Backend: shared}
	conf := func(b storage.Backend) core.Config {
		return core.Config{
			Storage: b, StorageType: "inmem", Memory: secmem.BestEffort,
			Engines:     map[string]logical.Factory{"kv": kv.Factory, "transit": transit.Factory},
			AuditPolicy: core.AuditPolicy{Dev: true},
		}
	}
	writer, reader = core.New(conf(log)), core.New(conf(shared))
	res, err := writer.Init(ctx, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*core.Core{writer, reader} {
		if _, err := c.Unseal(ctx, res.Shares[0]); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Seal(context.Background()) })
	}
	log.take()
	return writer, reader, log, res.RootToken
}

// invalidate tells reader of every key writer wrote since the last call.
func invalidate(t *testing.T, reader *core.Core, log *keyLog) {
	t.Helper()
	for _, k := range log.take() {
		if err := reader.Invalidate(context.Background(), k); err != nil {
			t.Fatalf("invalidate %s: %v", k, err)
		}
	}
}

func do(c *core.Core, tok string, op logical.Operation, path string, data map[string]any) (*core.Result, error) {
	return c.HandleRequest(context.Background(), tok, &logical.Request{Operation: op, Path: path, Data: data})
}

func TestSecondCoreSeesMountsAfterInvalidate(t *testing.T) {
	writer, reader, log, root := twoCores(t)
	ctx := context.Background()
	if err := writer.Mount(ctx, core.MountEntry{Path: "kv/", Type: "kv", Options: map[string]string{"version": "1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := do(writer, root, logical.UpdateOperation, "kv/app", map[string]any{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := do(reader, root, logical.ReadOperation, "kv/app", nil); !errors.Is(err, core.ErrNoMount) {
		t.Fatalf("before invalidation the reader served kv/: %v (the test shows nothing)", err)
	}
	invalidate(t, reader, log)
	res, err := do(reader, root, logical.ReadOperation, "kv/app", nil)
	if err != nil || res.Response == nil || res.Response.Data["v"] != "1" {
		t.Fatalf("after invalidation: %+v, %v; want v=1", res, err)
	}
	if err := writer.Unmount(ctx, "kv/", ""); err != nil {
		t.Fatal(err)
	}
	invalidate(t, reader, log)
	if _, err := do(reader, root, logical.ReadOperation, "kv/app", nil); !errors.Is(err, core.ErrNoMount) {
		t.Fatalf("after the unmount was invalidated the reader still serves kv/: %v", err)
	}
}

func TestSecondCoreSeesPoliciesAndTokensAfterInvalidate(t *testing.T) {
	writer, reader, log, root := twoCores(t)
	ctx := context.Background()
	if err := writer.Mount(ctx, core.MountEntry{Path: "kv/", Type: "kv", Options: map[string]string{"version": "1"}}); err != nil {
		t.Fatal(err)
	}
	if err := writer.WritePolicy(ctx, "ops", `path "kv/*" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	res, err := do(writer, root, logical.UpdateOperation, "auth/token/create", map[string]any{"policies": []any{"ops"}})
	if err != nil {
		t.Fatal(err)
	}
	tok := res.Issued.ID
	invalidate(t, reader, log)
	write := func() error {
		_, err := do(reader, tok, logical.UpdateOperation, "kv/x", map[string]any{"a": "b"})
		return err
	}
	if err := write(); !errors.Is(err, core.ErrPermissionDenied) {
		t.Fatalf("write under a read-only policy: %v, want permission denied", err)
	}
	// The reader has compiled the ACL; the writer widens the policy.
	if err := writer.WritePolicy(ctx, "ops", `path "kv/*" { capabilities = ["read", "create", "update"] }`); err != nil {
		t.Fatal(err)
	}
	if err := write(); !errors.Is(err, core.ErrPermissionDenied) {
		t.Fatalf("the reader saw the new policy before invalidation (%v): the test shows nothing", err)
	}
	invalidate(t, reader, log)
	if err := write(); err != nil {
		t.Fatalf("after invalidation the new policy does not apply: %v", err)
	}
	// The reader has the token's entry cached; the writer revokes it.
	if _, err := do(writer, root, logical.UpdateOperation, "auth/token/revoke", map[string]any{"token": tok}); err != nil {
		t.Fatal(err)
	}
	invalidate(t, reader, log)
	if _, err := reader.CheckToken(ctx, tok); !errors.Is(err, core.ErrPermissionDenied) {
		t.Fatalf("after invalidation the revoked token is still accepted: %v", err)
	}
}

func TestSecondCoreSeesTransitKeysAfterInvalidate(t *testing.T) {
	writer, reader, log, root := twoCores(t)
	ctx := context.Background()
	if err := writer.Mount(ctx, core.MountEntry{Path: "transit/", Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	if _, err := do(writer, root, logical.UpdateOperation, "transit/keys/k", nil); err != nil {
		t.Fatal(err)
	}
	invalidate(t, reader, log)
	version := func() string {
		t.Helper()
		res, err := do(reader, root, logical.UpdateOperation, "transit/encrypt/k", map[string]any{"plaintext": "aGk="})
		if err != nil {
			t.Fatal(err)
		}
		ct, _ := res.Response.Data["ciphertext"].(string)
		v, _, _ := strings.Cut(strings.TrimPrefix(ct, "vault:"), ":")
		return v
	}
	if v := version(); v != "v1" {
		t.Fatalf("first encryption under %s, want v1", v)
	}
	if _, err := do(writer, root, logical.UpdateOperation, "transit/keys/k/rotate", nil); err != nil {
		t.Fatal(err)
	}
	if v := version(); v != "v1" {
		t.Fatalf("the reader used %s before invalidation: the test shows nothing", v)
	}
	invalidate(t, reader, log)
	if v := version(); v != "v2" {
		t.Fatalf("after invalidation the reader encrypts under %s, want v2", v)
	}
}

func TestSecondCoreSeesAuditDevicesAfterInvalidate(t *testing.T) {
	writer, reader, log, _ := twoCores(t)
	ctx := context.Background()
	dir := t.TempDir()
	if err := writer.EnableAuditAPI(ctx, core.AuditDevice{Name: "file", Type: "file", Options: map[string]string{"file_path": dir + "/audit.log"}}); err != nil {
		t.Fatal(err)
	}
	// AuditHash asks the reader's own broker, not the stored table.
	enabled := func() bool {
		_, err := reader.AuditHash("file", "x")
		return err == nil
	}
	if enabled() {
		t.Fatal("the reader has the device before invalidation: the test shows nothing")
	}
	invalidate(t, reader, log)
	if !enabled() {
		t.Fatal("after invalidation the reader has not enabled the device")
	}
	if err := writer.DisableAuditAPI(ctx, "file"); err != nil {
		t.Fatal(err)
	}
	invalidate(t, reader, log)
	if enabled() {
		t.Fatal("after invalidation the reader still has the disabled device")
	}
}

// TestInvalidateAllRefreshesEverything: after a snapshot replaces every
// key, one call brings the reader's mounts, policies and transit keys up
// to date.
func TestInvalidateAllRefreshesEverything(t *testing.T) {
	writer, reader, log, root := twoCores(t)
	ctx := context.Background()
	if err := writer.Mount(ctx, core.MountEntry{Path: "transit/", Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	if _, err := do(writer, root, logical.UpdateOperation, "transit/keys/k", nil); err != nil {
		t.Fatal(err)
	}
	invalidate(t, reader, log)
	if _, err := do(reader, root, logical.UpdateOperation, "transit/encrypt/k", map[string]any{"plaintext": "aGk="}); err != nil {
		t.Fatal(err)
	}
	if _, err := do(writer, root, logical.UpdateOperation, "transit/keys/k/rotate", nil); err != nil {
		t.Fatal(err)
	}
	if err := writer.Mount(ctx, core.MountEntry{Path: "kv/", Type: "kv"}); err != nil {
		t.Fatal(err)
	}
	log.take() // the reader is told nothing key by key
	if err := reader.InvalidateAll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := do(reader, root, logical.ReadOperation, "kv/x", nil); errors.Is(err, core.ErrNoMount) {
		t.Fatal("after InvalidateAll the reader does not serve the new mount")
	}
	res, err := do(reader, root, logical.UpdateOperation, "transit/encrypt/k", map[string]any{"plaintext": "aGk="})
	if err != nil {
		t.Fatal(err)
	}
	if ct, _ := res.Response.Data["ciphertext"].(string); !strings.HasPrefix(ct, "vault:v2:") {
		t.Fatalf("after InvalidateAll the reader encrypts with %s, want v2", ct)
	}
}
