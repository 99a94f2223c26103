package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/arca-secrets/arca/internal/testenv"
)

// TestREADMEPKCS11Section follows the README's PKCS#11 section as a user
// would on one machine: a SoftHSM2 token in the home directory, init,
// and a restart that unseals with no one there. Only the port changes.
func TestREADMEPKCS11Section(t *testing.T) {
	testenv.Program(t, "softhsm2-util", "softhsm2")
	testenv.Program(t, "curl", "curl")
	heading := "Auto-unseal with an HSM (PKCS#11)"
	addr := freeAddr(t)
	script := strings.ReplaceAll(readmeBlocks(t, heading), "127.0.0.1:8200", addr)
	out := runOwnServersSection(t, heading, script, filepath.Join("arca-hsm", "arca.log"))
	if !strings.Contains(string(out), "Recovery Key 5: ") || strings.Contains(string(out), "Unseal Key") {
		t.Errorf("init did not print 5 recovery keys and no unseal key:\n%s", out)
	}
	if n := len(regexp.MustCompile(`Seal Type\s+pkcs11`).FindAllString(string(out), -1)); n != 2 {
		t.Errorf("the status shows the pkcs11 seal %d times, want 2 (after init, after the restart):\n%s", n, out)
	}
	if n := len(regexp.MustCompile(`Sealed\s+false`).FindAllString(string(out), -1)); n != 2 {
		t.Errorf("the status shows unsealed %d times, want 2:\n%s", n, out)
	}
}
