package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/openbao/openbao/api/v2"
)

// TestRotateRekeyRestart rotates the keyring and rekeys the unseal key,
// then restarts the server (after kill -9) and checks that old data reads,
// the new shares unseal and the old shares do not.
func TestRotateRekeyRestart(t *testing.T) {
	addr := freeAddr(t)
	dbPath := filepath.Join(t.TempDir(), "arca.db")
	conf := writeConfig(t, addr, `storage "bolt" { path = "`+dbPath+`" }`, "disable_mlock = true")
	p := startArca(t, addr, "-config="+conf)
	c := newClient(t, addr, "")
	init, err := c.Sys().Init(&api.InitRequest{SecretShares: 3, SecretThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	unseal(t, c, init.Keys[:2]...)
	c.SetToken(init.RootToken)
	if err := c.Sys().Mount("kv", &api.MountInput{Type: "kv-v2"}); err != nil {
		t.Fatal(err)
	}
	kv := c.KVv2("kv")
	if _, err := kv.Put(t.Context(), "before", map[string]any{"v": "one"}); err != nil {
		t.Fatal(err)
	}

	ks, err := c.Sys().KeyStatus()
	if err != nil || ks.Term != 1 {
		t.Fatalf("key status: %+v, %v; want term 1", ks, err)
	}
	if err := c.Sys().Rotate(); err != nil {
		t.Fatal(err)
	}
	if ks, err = c.Sys().KeyStatus(); err != nil || ks.Term != 2 {
		t.Fatalf("after rotate: %+v, %v; want term 2", ks, err)
	}
	if _, err := kv.Put(t.Context(), "after", map[string]any{"v": "two"}); err != nil {
		t.Fatal(err)
	}

	// Rekey to 4 shares, threshold 3, with two of the current shares.
	rs, err := c.Sys().RekeyInit(&api.RekeyInitRequest{SecretShares: 4, SecretThreshold: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !rs.Started || rs.N != 4 || rs.T != 3 || rs.Required != 2 || rs.Nonce == "" {
		t.Fatalf("rekey init: %+v", rs)
	}
	if _, err := c.Sys().RekeyUpdate(init.Keys[0], "wrong-nonce"); statusOf(err) != 400 {
		t.Fatalf("rekey with wrong nonce: got %v, want 400", err)
	}
	up, err := c.Sys().RekeyUpdate(init.Keys[0], rs.Nonce)
	if err != nil || up.Complete {
		t.Fatalf("first rekey share: %+v, %v", up, err)
	}
	up, err = c.Sys().RekeyUpdate(init.Keys[1], rs.Nonce)
	if err != nil || !up.Complete || len(up.Keys) != 4 {
		t.Fatalf("second rekey share: %+v, %v", up, err)
	}

	// kill -9 and restart on the same file.
	p.kill()
	startArca(t, addr, "-config="+conf)
	st, err := c.Sys().SealStatus()
	if err != nil || !st.Sealed || st.T != 3 || st.N != 4 {
		t.Fatalf("after restart: %+v, %v", st, err)
	}
	// The old shares no longer unseal.
	unseal(t, c, init.Keys[0], init.Keys[1])
	if _, err := c.Sys().Unseal(init.Keys[2]); err == nil || !strings.Contains(err.Error(), "reset") {
		t.Fatalf("old shares: got %v, want an unseal failure", err)
	}
	unseal(t, c, up.Keys[3], up.KeysB64[0], up.Keys[2])
	for path, want := range map[string]string{"before": "one", "after": "two"} {
		s, err := kv.Get(t.Context(), path)
		if err != nil || s.Data["v"] != want {
			t.Fatalf("read %s after restart: %v, %v; want %q", path, s, err, want)
		}
	}
	if ks, err = c.Sys().KeyStatus(); err != nil || ks.Term != 2 {
		t.Fatalf("key term after restart: %+v, %v; want 2", ks, err)
	}
}

func TestRekeyCancelAndStatus(t *testing.T) {
	_, c := startDev(t, "root")
	if st, err := c.Sys().RekeyStatus(); err != nil || st.Started {
		t.Fatalf("rekey status before init: %+v, %v", st, err)
	}
	if _, err := c.Sys().RekeyInit(&api.RekeyInitRequest{SecretShares: 2, SecretThreshold: 3}); statusOf(err) != 400 {
		t.Fatalf("threshold > shares: got %v, want 400", err)
	}
	if _, err := c.Sys().RekeyInit(&api.RekeyInitRequest{SecretShares: 3, SecretThreshold: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sys().RekeyInit(&api.RekeyInitRequest{SecretShares: 3, SecretThreshold: 2}); statusOf(err) != 400 {
		t.Fatalf("second rekey init: got %v, want 400", err)
	}
	if err := c.Sys().RekeyCancel(); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Sys().RekeyStatus(); err != nil || st.Started {
		t.Fatalf("rekey status after cancel: %+v, %v", st, err)
	}
}
