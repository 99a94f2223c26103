package e2e

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	keysBinOnce sync.Once
	keysBin     string
	keysBinErr  error
)

// arcaKeysBin builds, once, the test build of arca (tag arcakeys) that
// writes its root key and keyring term keys to ARCA_TEST_KEYS_FILE, so the
// dump test knows the bytes to look for.
func arcaKeysBin(t *testing.T) string {
	t.Helper()
	keysBinOnce.Do(func() {
		keysBin = filepath.Join(filepath.Dir(arcaBin), "arca-keys")
		build := exec.Command("go", "build", "-tags", "arcakeys", "-o", keysBin, "github.com/arca-secrets/arca/cmd/arca")
		if out, err := build.CombinedOutput(); err != nil {
			keysBinErr = fmt.Errorf("building arca with -tags arcakeys: %v\n%s", err, out)
		}
	})
	if keysBinErr != nil {
		t.Fatal(keysBinErr)
	}
	return keysBin
}

// TestCoreDumpKeys measures where the root key and the keyring's term keys
// are while the server is unsealed (their locked pages are left out of
// dumps; AES key schedules, on the heap, begin with the key itself), and
// proves that none is left anywhere once it is sealed. A release build
// writes no keys anywhere, whatever its environment says.
func TestCoreDumpKeys(t *testing.T) {
	bin := arcaKeysBin(t)
	for round := range dumpRounds(t) {
		keysFile := filepath.Join(t.TempDir(), "keys")
		t.Setenv("ARCA_TEST_KEYS_FILE", keysFile)
		addr := freeAddr(t)
		p := startArcaBin(t, bin, addr, "-config="+writeConfig(t, addr, `storage "inmem" {}`))
		c := newClient(t, addr, "")
		initAndUnseal(t, c)
		if err := c.Sys().Rotate(); err != nil {
			t.Fatal(err)
		}
		keys := readTestKeys(t, keysFile)
		if len(keys) != 3 {
			t.Fatalf("the test build exported %d keys, want the root key and two terms", len(keys))
		}
		// Unsealed, only measured: the hex forms this test build wrote
		// are its own, and the ciphers in use hold their keys.
		raw := map[string]int{}
		for _, h := range dumpHits(t, p.cmd.Process.Pid, keys...) {
			if name, _, ok := strings.Cut(h, " (raw)"); ok {
				raw[name]++
			}
		}
		t.Logf("round %d, unsealed: raw copies in a dump (outside locked pages): %v", round, raw)
		if err := c.Sys().Seal(); err != nil {
			t.Fatal(err)
		}
		failOnHits(t, fmt.Sprintf("round %d, sealed", round), dumpHits(t, p.cmd.Process.Pid, keys...))
		p.kill()
	}

	// The release build ignores the variable.
	keysFile := filepath.Join(t.TempDir(), "keys")
	t.Setenv("ARCA_TEST_KEYS_FILE", keysFile)
	addr := freeAddr(t)
	startArca(t, addr, "-config="+writeConfig(t, addr, `storage "inmem" {}`))
	initAndUnseal(t, newClient(t, addr, ""))
	if _, err := os.Stat(keysFile); !os.IsNotExist(err) {
		t.Fatalf("the release build wrote its keys to ARCA_TEST_KEYS_FILE (%v)", err)
	}
}

// readTestKeys reads what exportKeysForTest wrote.
func readTestKeys(t *testing.T, path string) []secretForms {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the test build wrote no keys: %v", err)
	}
	var keys []secretForms
	for i, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		name, h, _ := strings.Cut(string(line), " ")
		k, err := hex.DecodeString(h)
		if err != nil || len(k) != 32 {
			t.Fatalf("keys file line %d: %q", i, line)
		}
		keys = append(keys, binarySecret(fmt.Sprintf("%s key %d", name, i), k))
	}
	return keys
}
