package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/arca-secrets/arca/internal/testenv"
)

// TestREADMESealMigration follows the README's seal migration section as
// a user would on one machine: Shamir → PKCS#11 (SoftHSM2) → transit (a
// dev server) → Shamir. Only the ports change.
func TestREADMESealMigration(t *testing.T) {
	testenv.Program(t, "softhsm2-util", "softhsm2")
	testenv.Program(t, "curl", "curl")
	heading := "Seal migration"
	script := strings.NewReplacer("127.0.0.1:8200", freeAddr(t), "127.0.0.1:8300", freeAddr(t)).Replace(readmeBlocks(t, heading))
	out := runOwnServersSection(t, heading, script, filepath.Join("arca-migrate", "arca.log"))
	if n := strings.Count(string(out), "s3cr3t"); n != 3 {
		t.Errorf("the secret was read %d times, want 3 (after each migration):\n%s", n, out)
	}
	for _, re := range []string{`Seal Migration in Progress\s+true`, `Seal Type\s+shamir`, `Sealed\s+false`} {
		if !regexp.MustCompile(re).MatchString(string(out)) {
			t.Errorf("the output lacks %s:\n%s", re, out)
		}
	}
}
