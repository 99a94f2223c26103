package e2e

import (
	"bytes"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openbao/openbao/api/v2"
)

// initServer starts a bolt-backed server, initialises it with 5/3 and
// returns the process, a client, the bolt path and the init response.
func initServer(t *testing.T) (*proc, *api.Client, string, *api.InitResponse) {
	t.Helper()
	addr := freeAddr(t)
	dbPath := filepath.Join(t.TempDir(), "arca.db")
	conf := writeConfig(t, addr, `storage "bolt" { path = "`+dbPath+`" }`, "disable_mlock = true")
	p := startArca(t, addr, "-config="+conf)
	c := newClient(t, addr, "")
	st, err := c.Sys().SealStatus()
	if err != nil {
		t.Fatal(err)
	}
	if st.Initialized || !st.Sealed {
		t.Fatalf("new server: initialized=%v sealed=%v, want false, true", st.Initialized, st.Sealed)
	}
	init, err := c.Sys().Init(&api.InitRequest{SecretShares: 5, SecretThreshold: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(init.Keys) != 5 || len(init.KeysB64) != 5 || init.RootToken == "" {
		t.Fatalf("init: got %d keys, %d base64 keys, root token %q", len(init.Keys), len(init.KeysB64), init.RootToken)
	}
	return p, c, dbPath, init
}

// initAndUnseal initialises the server behind c with one key share,
// unseals it and gives c the root token.
func initAndUnseal(t *testing.T, c *api.Client) *api.InitResponse {
	t.Helper()
	init, err := c.Sys().Init(&api.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	unseal(t, c, init.Keys[0])
	c.SetToken(init.RootToken)
	return init
}

func unseal(t *testing.T, c *api.Client, keys ...string) *api.SealStatusResponse {
	t.Helper()
	var st *api.SealStatusResponse
	for _, k := range keys {
		var err error
		if st, err = c.Sys().Unseal(k); err != nil {
			t.Fatalf("unseal: %v", err)
		}
	}
	return st
}

func TestInitUnsealSealLifecycle(t *testing.T) {
	_, c, _, init := initServer(t)
	c.SetToken(init.RootToken)

	// Sealed: every other call answers 503 saying so.
	_, err := c.Logical().Read("sys/mounts")
	if statusOf(err) != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "sealed") {
		t.Fatalf("sealed request: got %v, want 503 saying sealed", err)
	}
	if _, err := c.Sys().Init(&api.InitRequest{SecretShares: 1, SecretThreshold: 1}); statusOf(err) != 400 {
		t.Fatalf("second init: got %v, want 400", err)
	}

	// A malformed key is refused and not counted.
	if _, err := c.Sys().Unseal("not-a-key!"); statusOf(err) != 400 {
		t.Fatalf("malformed key: got %v, want 400", err)
	}
	if _, err := c.Sys().Unseal("abcd"); statusOf(err) != 400 {
		t.Fatalf("short key: got %v, want 400", err)
	}
	st := unseal(t, c, init.Keys[0])
	if st.Progress != 1 || !st.Sealed || st.T != 3 || st.N != 5 {
		t.Fatalf("after one key: progress=%d sealed=%v t=%d n=%d", st.Progress, st.Sealed, st.T, st.N)
	}
	// The same key again is not counted twice.
	if st = unseal(t, c, init.Keys[0]); st.Progress != 1 {
		t.Fatalf("duplicate key: progress %d, want 1", st.Progress)
	}

	// A wrong combination (a valid-looking share of another split) resets
	// progress with a clear error.
	bad, err := hex.DecodeString(init.Keys[2])
	if err != nil {
		t.Fatal(err)
	}
	bad[0] ^= 1 // a well-formed share that belongs to no split
	unseal(t, c, init.KeysB64[1])
	if _, err := c.Sys().Unseal(hex.EncodeToString(bad)); statusOf(err) != 400 || !strings.Contains(err.Error(), "reset") {
		t.Fatalf("wrong combination: got %v, want 400 saying progress was reset", err)
	}
	st, err = c.Sys().SealStatus()
	if err != nil || st.Progress != 0 || !st.Sealed {
		t.Fatalf("after wrong combination: %+v, %v", st, err)
	}

	// Hex and base64 shares mix.
	st = unseal(t, c, init.Keys[4], init.KeysB64[2], init.Keys[0])
	if st.Sealed {
		t.Fatal("still sealed after threshold")
	}
	if _, err := c.Logical().Write("secret-not-mounted/x", map[string]any{"a": "b"}); statusOf(err) != 404 {
		t.Fatalf("write to unmounted path: got %v, want 404", err)
	}

	// Seal needs a token.
	anon := newClient(t, strings.TrimPrefix(c.Address(), "http://"), "")
	if err := anon.Sys().Seal(); statusOf(err) != 403 {
		t.Fatalf("seal without token: got %v, want 403", err)
	}
	if err := c.Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	if st, _ = c.Sys().SealStatus(); !st.Sealed {
		t.Fatal("not sealed after seal")
	}
}

func TestNoPlaintextInStorage(t *testing.T) {
	p, c, dbPath, init := initServer(t)
	unseal(t, c, init.Keys[:3]...)
	c.SetToken(init.RootToken)
	if err := c.Sys().Mount("secret", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	const secret = "correct-horse-battery-staple-4f9a"
	if _, err := c.KVv2("secret").Put(t.Context(), "app", map[string]any{"db_password": secret}); err != nil {
		t.Fatal(err)
	}
	p.kill()
	raw, err := os.ReadFile(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	for name, needle := range map[string]string{"secret value": secret, "root token": init.RootToken} {
		if bytes.Contains(raw, []byte(needle)) {
			t.Errorf("the bolt file holds the %s in plaintext", name)
		}
	}
	for i, k := range init.Keys {
		if bytes.Contains(raw, []byte(k)) || bytes.Contains(raw, []byte(init.KeysB64[i])) {
			t.Errorf("the bolt file holds unseal key %d", i)
		}
	}
	if !bytes.Contains(raw, []byte("app")) {
		t.Error("the bolt file lacks the key name: the test is not looking at the right file")
	}
}

func TestHealthStatusCodes(t *testing.T) {
	addr := freeAddr(t)
	conf := writeConfig(t, addr, `storage "inmem" {}`, "disable_mlock = true")
	startArca(t, addr, "-config="+conf)
	c := newClient(t, addr, "")
	check := func(query string, want int) {
		t.Helper()
		got, body := rawRequest(t, addr, "", http.MethodGet, "/v1/sys/health"+query, nil)
		if got != want {
			t.Errorf("health%s: got %d, want %d (%s)", query, got, want, body)
		}
	}
	check("", 501)
	check("?uninitcode=200", 200)
	check("?uninitcode=abc", 400)
	init, err := c.Sys().Init(&api.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	check("", 503)
	check("?sealedcode=299", 299)
	unseal(t, c, init.Keys[0])
	check("", 200)
	check("?activecode=204", 204)
	check("?standbyok=true&perfstandbyok=false&removedcode=530&haunhealthycode=474", 200)
	check("?standbyok=perhaps", 400)
	check("?haunhealthycode=99", 400)
	h, err := c.Sys().Health()
	if err != nil || !h.Initialized || h.Sealed {
		t.Fatalf("health: %+v, %v", h, err)
	}
	// The vault/bao CLIs' status command asks sys/leader too.
	l, err := c.Sys().Leader()
	if err != nil || l.HAEnabled {
		t.Fatalf("leader: %+v, %v", l, err)
	}
}
