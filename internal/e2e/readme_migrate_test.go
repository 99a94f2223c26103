package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
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
	dir := t.TempDir()
	if err := os.Symlink(arcaBin, filepath.Join(dir, "arca")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + dir + ":" + os.Getenv("PATH"), "HOME=" + dir}
	// The section starts servers in the background: end them all if it
	// fails half-way.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t.Cleanup(func() {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})
	out, err := cmd.CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "arca-migrate", "arca.log"))
		t.Fatalf("README section %q failed: %v\n%s\nserver log:\n%s", heading, err, out, log)
	}
	if n := strings.Count(string(out), "s3cr3t"); n != 3 {
		t.Errorf("the secret was read %d times, want 3 (after each migration):\n%s", n, out)
	}
	for _, re := range []string{`Seal Migration in Progress\s+true`, `Seal Type\s+shamir`, `Sealed\s+false`} {
		if !regexp.MustCompile(re).MatchString(string(out)) {
			t.Errorf("the output lacks %s:\n%s", re, out)
		}
	}
}
