package core_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/secmem"
	"github.com/arca-secrets/arca/secrets/kv"
	"github.com/arca-secrets/arca/storage/inmem"
	"github.com/arca-secrets/arca/token"
)

// devCore returns an initialised, unsealed core over in-memory storage
// with kv v2 at secret/, its unseal key and root token.
func devCore(t *testing.T, cfg core.Config) (*core.Core, []byte, string) {
	t.Helper()
	return devCoreTB(t, cfg)
}

func devCoreTB(t testing.TB, cfg core.Config) (*core.Core, []byte, string) {
	t.Helper()
	cfg.Storage = inmem.New()
	cfg.StorageType = "inmem"
	cfg.Memory = secmem.BestEffort
	if cfg.Engines == nil {
		cfg.Engines = map[string]logical.Factory{}
	}
	cfg.Engines["kv"] = kv.Factory
	c := core.New(cfg)
	res, err := c.DevInit(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Seal(context.Background()) })
	return c, res.Shares[0], res.RootToken
}

// noPanic runs f and turns a panic into an error.
func noPanic(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panicked: %v", v)
		}
	}()
	return f()
}

// TestSealedCoreMethodsReturnErrSealed calls every exported method a sys
// handler uses on a core that was unsealed (so tokens, leases, a
// wrapping token and a mount exist) and then sealed: each returns
// ErrSealed, and none panics.
func TestSealedCoreMethodsReturnErrSealed(t *testing.T) {
	ctx := context.Background()
	c, key, root := devCore(t, core.Config{})
	rootEntry, err := c.CheckToken(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Wrap(ctx, []byte(`{"data":{"a":"b"}}`), time.Minute, "sys/wrapping/wrap", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WritePolicy(ctx, "reader", `path "secret/*" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	if err := c.Seal(ctx); err != nil {
		t.Fatal(err)
	}

	calls := []struct {
		name string
		call func() error
	}{
		{"Rewrap", func() error { _, err := c.Rewrap(ctx, info.Token); return err }},
		{"Rewrap (empty token)", func() error { _, err := c.Rewrap(ctx, ""); return err }},
		{"WrapLookup", func() error { _, err := c.WrapLookup(ctx, info.Token); return err }},
		{"Unwrap", func() error { _, err := c.Unwrap(ctx, info.Token); return err }},
		{"Wrap", func() error { _, err := c.Wrap(ctx, []byte("{}"), time.Minute, "p", ""); return err }},
		{"Mounts", func() error { _, err := c.Mounts(ctx, ""); return err }},
		{"Mounts (auth)", func() error { _, err := c.Mounts(ctx, core.AuthTable); return err }},
		{"MountInfo", func() error { _, err := c.MountInfo(ctx, "secret/data/x"); return err }},
		{"MountInfo (sys)", func() error { _, err := c.MountInfo(ctx, "sys/mounts"); return err }},
		{"Mount", func() error { return c.Mount(ctx, core.MountEntry{Path: "kv2", Type: "kv"}) }},
		{"Unmount", func() error { return c.Unmount(ctx, "secret", "") }},
		{"Tune", func() error { return c.Tune(ctx, "secret", "", core.MountTune{}, nil) }},
		{"LeaseLookup", func() error { _, err := c.LeaseLookup(ctx, "auth/x/login/y/0"); return err }},
		{"LeaseList", func() error { _, err := c.LeaseList(ctx, "auth/"); return err }},
		{"LeaseRenew", func() error { _, err := c.LeaseRenew(ctx, "auth/x/login/y/0", 0); return err }},
		{"LeaseRevoke", func() error { return c.LeaseRevoke(ctx, "auth/x/login/y/0") }},
		{"LeaseRevokePrefix", func() error { _, err := c.LeaseRevokePrefix(ctx, "auth/", false); return err }},
		{"PolicyNames", func() error { _, err := c.PolicyNames(ctx); return err }},
		{"ReadPolicy", func() error { _, _, err := c.ReadPolicy(ctx, "default"); return err }},
		{"WritePolicy", func() error { return c.WritePolicy(ctx, "p", `path "x" { capabilities = ["read"] }`) }},
		{"DeletePolicy", func() error { return c.DeletePolicy(ctx, "reader") }},
		{"PasswordPolicyNames", func() error { _, err := c.PasswordPolicyNames(ctx); return err }},
		{"ReadPasswordPolicy", func() error { _, _, err := c.ReadPasswordPolicy(ctx, "p"); return err }},
		{"WritePasswordPolicy", func() error {
			return c.WritePasswordPolicy(ctx, "p", "length = 8\nrule \"charset\" { charset = \"ab\" }")
		}},
		{"DeletePasswordPolicy", func() error { return c.DeletePasswordPolicy(ctx, "p") }},
		{"GeneratePassword", func() error { _, err := c.GeneratePassword(ctx, "p"); return err }},
		{"AuditDevices", func() error { _, err := c.AuditDevices(ctx); return err }},
		{"EnableAuditAPI", func() error {
			return c.EnableAuditAPI(ctx, core.AuditDevice{Name: "f", Type: "file", Options: map[string]string{"file_path": t.TempDir() + "/a.log"}})
		}},
		{"DisableAuditAPI", func() error { return c.DisableAuditAPI(ctx, "f") }},
		{"AuditHash", func() error { _, err := c.AuditHash("f", "x"); return err }},
		{"CheckToken", func() error { _, err := c.CheckToken(ctx, root); return err }},
		{"LookupAccessor", func() error { _, err := c.LookupAccessor(ctx, rootEntry.Accessor); return err }},
		{"Rotate", func() error { _, err := c.Rotate(ctx); return err }},
		{"KeyStatus", func() error { _, err := c.KeyStatus(); return err }},
		{"RekeyInit", func() error { _, err := c.RekeyInit(ctx, 1, 1); return err }},
		{"RekeyStatus", func() error { _, err := c.RekeyStatus(ctx); return err }},
		{"RekeyUpdate", func() error { _, err := c.RekeyUpdate(ctx, key, "n"); return err }},
		{"Serve", func() error {
			_, err := c.Serve(ctx, &core.Request{Operation: logical.ReadOperation, Path: "secret/data/x", Token: root})
			return err
		}},
		{"HandleRequest", func() error {
			_, err := c.HandleRequest(ctx, root, &logical.Request{Operation: logical.ReadOperation, Path: "auth/token/lookup-self"})
			return err
		}},
		{"ServeSys", func() error {
			return c.ServeSys(ctx, &core.Request{Operation: logical.ReadOperation, Path: "sys/mounts", Token: root},
				func(context.Context, *core.Call) (map[string]any, error) {
					t.Error("ServeSys called its handler on a sealed core")
					return nil, nil
				})
		}},
	}
	for _, tc := range calls {
		err := noPanic(tc.call)
		if !errors.Is(err, core.ErrSealed) {
			t.Errorf("%s on a sealed core: %v, want ErrSealed", tc.name, err)
		}
	}

	// The calls changed nothing: after unseal the wrapping token still
	// unwraps and the policy is still there.
	if _, err := c.Unseal(ctx, key); err != nil {
		t.Fatal(err)
	}
	if body, err := c.Unwrap(ctx, info.Token); err != nil || string(body) != `{"data":{"a":"b"}}` {
		t.Errorf("after unseal, Unwrap: %q, %v; want the wrapped body", body, err)
	}
	if _, ok, err := c.ReadPolicy(ctx, "reader"); !ok || err != nil {
		t.Errorf("after unseal, the reader policy: %v, %v", ok, err)
	}
}

// TestSealedCapabilitiesReturnErrSealed: sys/capabilities* call
// Capabilities with a token entry read before; on a core sealed since,
// it must refuse like every other method.
func TestSealedCapabilitiesReturnErrSealed(t *testing.T) {
	ctx := context.Background()
	c, _, root := devCore(t, core.Config{})
	rootEntry, err := c.CheckToken(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WritePolicy(ctx, "reader", `path "secret/*" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	reader := *rootEntry
	reader.Policies = []string{"reader"}
	if err := c.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	for _, te := range []*token.Entry{rootEntry, &reader} {
		var caps map[string][]string
		err := noPanic(func() (err error) {
			caps, err = c.Capabilities(ctx, te, []string{"secret/data/x"})
			return err
		})
		if !errors.Is(err, core.ErrSealed) {
			t.Errorf("Capabilities for policies %v on a sealed core: %v, %v; want ErrSealed", te.Policies, caps, err)
		}
	}
}
