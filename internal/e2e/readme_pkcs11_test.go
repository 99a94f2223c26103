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

// readmeBlocks returns the sh blocks of the README section under heading,
// every line kept: the section starts and restarts its own server.
func readmeBlocks(t *testing.T, heading string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	start := strings.Index(text, "## "+heading+"\n")
	if start < 0 {
		t.Fatalf("README has no section %q", heading)
	}
	section := text[start+3:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	var script []string
	in := false
	for _, line := range strings.Split(section, "\n") {
		switch {
		case !in && strings.HasPrefix(line, "```sh"):
			in = true
		case in && line == "```":
			in = false
		case in:
			script = append(script, line)
		}
	}
	if len(script) == 0 {
		t.Fatalf("README section %q has no sh block", heading)
	}
	return strings.Join(script, "\n")
}

// TestREADMEPKCS11Section follows the README's PKCS#11 section as a user
// would on one machine: a SoftHSM2 token in the home directory, init,
// and a restart that unseals with no one there. Only the port changes.
func TestREADMEPKCS11Section(t *testing.T) {
	testenv.Program(t, "softhsm2-util", "softhsm2")
	testenv.Program(t, "curl", "curl")
	heading := "Auto-unseal with an HSM (PKCS#11)"
	addr := freeAddr(t)
	script := strings.ReplaceAll(readmeBlocks(t, heading), "127.0.0.1:8200", addr)
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
		log, _ := os.ReadFile(filepath.Join(dir, "arca-hsm", "arca.log"))
		t.Fatalf("README section %q failed: %v\n%s\nserver log:\n%s", heading, err, out, log)
	}
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
