package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Workloads lists the names newWorkload knows.
var Workloads = []string{"kv-read", "kv-write", "kv-mixed", "token-create", "token-lookup", "userpass-login", "approle-login", "transit-encrypt", "transit-decrypt", "database-creds", "ceiling"}

func newWorkload(name string, cfg Config) (workload, error) {
	switch name {
	case "kv-read":
		return &kv{readShare: 100, keys: cfg.kvKeys()}, nil
	case "kv-write":
		return &kv{readShare: 0, keys: cfg.kvKeys()}, nil
	case "kv-mixed":
		return &kv{readShare: 90, keys: cfg.kvKeys()}, nil
	case "ceiling":
		return &ceiling{keys: cfg.kvKeys()}, nil
	case "token-create":
		return &tokenCreate{}, nil
	case "token-lookup":
		return &tokenLookup{}, nil
	case "userpass-login":
		return &userpassLogin{}, nil
	case "approle-login":
		return &approleLogin{}, nil
	case "transit-encrypt":
		return &transit{decrypt: false}, nil
	case "transit-decrypt":
		return &transit{decrypt: true}, nil
	case "database-creds":
		if cfg.PostgresURL == "" {
			return nil, fmt.Errorf("bench: database-creds needs -postgres-url (a PostgreSQL user that may create roles)")
		}
		return &databaseCreds{url: cfg.PostgresURL}, nil
	}
	return nil, fmt.Errorf("bench: unknown workload %q (one of %s)", name, strings.Join(Workloads, ", "))
}

func mount(ctx context.Context, c *client, path, typ string, options map[string]string) error {
	return c.do(ctx, http.MethodPost, "sys/mounts/"+path, "", map[string]any{"type": typ, "options": options}, nil)
}

func enableAuth(ctx context.Context, c *client, path, typ string) error {
	return c.do(ctx, http.MethodPost, "sys/auth/"+path, "", map[string]any{"type": typ}, nil)
}

// DefaultKVKeys is how many keys the kv workloads write before they are
// measured, and spread their operations over.
const DefaultKVKeys = 1000

// kv reads and writes secrets of 100 bytes in a KV v2 mount of its own.
type kv struct {
	readShare int
	keys      int
	mount     string
	value     map[string]any
}

func (w *kv) setup(ctx context.Context, c *client, prefix string) error {
	w.mount = prefix + "-kv-" + fmt.Sprint(w.readShare)
	if err := mount(ctx, c, w.mount, "kv", map[string]string{"version": "2"}); err != nil {
		return err
	}
	w.value = map[string]any{"data": map[string]any{"value": strings.Repeat("v", 100)}}
	if err := firstWrite(ctx, c, kvPath(w.mount, 0), w.value); err != nil {
		return err
	}
	for i := 1; i < w.keys; i++ {
		if err := c.do(ctx, http.MethodPost, kvPath(w.mount, i), "", w.value, nil); err != nil {
			return err
		}
	}
	return nil
}

// upgradeWait is how long firstWrite waits for a new KV v2 mount.
const upgradeWait = 30 * time.Second

// firstWrite writes to a KV v2 mount just created, waiting while the
// server answers 400: OpenBao and Vault set up a new v2 mount in the
// background ("upgrading from non-versioned to versioned data") and refuse
// its requests with 400 until then, which on raft can outlast the mount
// call by a second.
func firstWrite(ctx context.Context, c *client, path string, value any) error {
	deadline := time.Now().Add(upgradeWait)
	for {
		err := c.do(ctx, http.MethodPost, path, "", value, nil)
		var se *statusError
		if !errors.As(err, &se) || se.code != http.StatusBadRequest || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// replicated waits until the node measured reads the last key written
// (up to upgradeWait): a standby applies the set-up's writes a moment
// after the active node acknowledged them.
func (w *kv) replicated(ctx context.Context, op *client) error {
	deadline := time.Now().Add(upgradeWait)
	for {
		err := op.do(ctx, http.MethodGet, kvPath(w.mount, w.keys-1), "", nil, nil)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func kvPath(mount string, key int) string {
	return mount + "/data/k" + strconv.Itoa(key)
}

func (w *kv) op(ctx context.Context, c *client, r *rand.Rand) error {
	path := kvPath(w.mount, r.IntN(w.keys))
	if r.IntN(100) < w.readShare {
		return c.do(ctx, http.MethodGet, path, "", nil, nil)
	}
	return c.do(ctx, http.MethodPost, path, "", w.value, nil)
}

func (w *kv) cleanup(ctx context.Context, c *client, _ string) {
	_ = c.do(ctx, http.MethodDelete, "sys/mounts/"+w.mount, "", nil, nil)
}

// tokenCreate creates short-lived child tokens.
type tokenCreate struct{}

func (w *tokenCreate) setup(context.Context, *client, string) error { return nil }
func (w *tokenCreate) op(ctx context.Context, c *client, _ *rand.Rand) error {
	return c.do(ctx, http.MethodPost, "auth/token/create", "", map[string]any{"policies": []string{"default"}, "ttl": "10m"}, nil)
}
func (w *tokenCreate) cleanup(context.Context, *client, string) {}

// tokenLookup looks a token up with itself.
type tokenLookup struct{ tok string }

type authAnswer struct {
	Auth struct {
		ClientToken string `json:"client_token"`
	} `json:"auth"`
	Data map[string]any `json:"data"`
}

func (w *tokenLookup) setup(ctx context.Context, c *client, _ string) error {
	var a authAnswer
	if err := c.do(ctx, http.MethodPost, "auth/token/create", "", map[string]any{"policies": []string{"default"}, "ttl": "1h"}, &a); err != nil {
		return err
	}
	w.tok = a.Auth.ClientToken
	return nil
}
func (w *tokenLookup) op(ctx context.Context, c *client, _ *rand.Rand) error {
	return c.do(ctx, http.MethodGet, "auth/token/lookup-self", w.tok, nil, nil)
}
func (w *tokenLookup) cleanup(ctx context.Context, c *client, _ string) {
	_ = c.do(ctx, http.MethodPost, "auth/token/revoke-self", w.tok, nil, nil)
}

// userpassLogin logs one user in again and again.
type userpassLogin struct{ mount string }

func (w *userpassLogin) setup(ctx context.Context, c *client, prefix string) error {
	w.mount = prefix + "-userpass"
	if err := enableAuth(ctx, c, w.mount, "userpass"); err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, "auth/"+w.mount+"/users/bench", "", map[string]any{"password": "bench-password", "token_ttl": "10m"}, nil)
}
func (w *userpassLogin) op(ctx context.Context, c *client, _ *rand.Rand) error {
	return c.do(ctx, http.MethodPost, "auth/"+w.mount+"/login/bench", "-", map[string]any{"password": "bench-password"}, nil)
}
func (w *userpassLogin) cleanup(ctx context.Context, c *client, _ string) {
	_ = c.do(ctx, http.MethodDelete, "sys/auth/"+w.mount, "", nil, nil)
}

// approleLogin logs in with one role ID and an unlimited secret ID.
type approleLogin struct{ mount, roleID, secretID string }

func (w *approleLogin) setup(ctx context.Context, c *client, prefix string) error {
	w.mount = prefix + "-approle"
	if err := enableAuth(ctx, c, w.mount, "approle"); err != nil {
		return err
	}
	base := "auth/" + w.mount + "/role/bench"
	if err := c.do(ctx, http.MethodPost, base, "", map[string]any{"token_ttl": "10m"}, nil); err != nil {
		return err
	}
	var a authAnswer
	if err := c.do(ctx, http.MethodGet, base+"/role-id", "", nil, &a); err != nil {
		return err
	}
	w.roleID, _ = a.Data["role_id"].(string)
	a = authAnswer{}
	if err := c.do(ctx, http.MethodPost, base+"/secret-id", "", nil, &a); err != nil {
		return err
	}
	w.secretID, _ = a.Data["secret_id"].(string)
	return nil
}
func (w *approleLogin) op(ctx context.Context, c *client, _ *rand.Rand) error {
	return c.do(ctx, http.MethodPost, "auth/"+w.mount+"/login", "-", map[string]any{"role_id": w.roleID, "secret_id": w.secretID}, nil)
}
func (w *approleLogin) cleanup(ctx context.Context, c *client, _ string) {
	_ = c.do(ctx, http.MethodDelete, "sys/auth/"+w.mount, "", nil, nil)
}

// transit encrypts or decrypts 1 KiB.
type transit struct {
	decrypt    bool
	mount      string
	plaintext  string
	ciphertext string
}

func (w *transit) setup(ctx context.Context, c *client, prefix string) error {
	w.mount = prefix + "-transit-" + fmt.Sprint(w.decrypt)
	if err := mount(ctx, c, w.mount, "transit", nil); err != nil {
		return err
	}
	w.plaintext = strings.Repeat("QUJD", 1024/3+1)[:1368]
	var a authAnswer
	if err := c.do(ctx, http.MethodPost, w.mount+"/encrypt/bench", "", map[string]any{"plaintext": w.plaintext}, &a); err != nil {
		return err
	}
	w.ciphertext, _ = a.Data["ciphertext"].(string)
	return nil
}
func (w *transit) op(ctx context.Context, c *client, _ *rand.Rand) error {
	if w.decrypt {
		return c.do(ctx, http.MethodPost, w.mount+"/decrypt/bench", "", map[string]any{"ciphertext": w.ciphertext}, nil)
	}
	return c.do(ctx, http.MethodPost, w.mount+"/encrypt/bench", "", map[string]any{"plaintext": w.plaintext}, nil)
}
func (w *transit) cleanup(ctx context.Context, c *client, _ string) {
	_ = c.do(ctx, http.MethodDelete, "sys/mounts/"+w.mount, "", nil, nil)
}
