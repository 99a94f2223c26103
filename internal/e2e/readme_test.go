package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeCommands returns the shell lines of the README section under
// heading that run arca (or pipe into it), without comments and without
// the lines that start a server.
func readmeCommands(t *testing.T, heading string) []string {
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
	comment := regexp.MustCompile(`\s+#\s.*$`)
	var out []string
	for _, line := range strings.Split(section, "\n") {
		line = comment.ReplaceAllString(line, "")
		if (strings.HasPrefix(line, "./arca ") || strings.HasPrefix(line, "echo ")) && !strings.Contains(line, "arca server") {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		t.Fatalf("README section %q has no arca commands", heading)
	}
	return out
}

// TestREADMECommands runs the README's quick start and KV commands, as
// written, against a dev server: the README must stay true.
func TestREADMECommands(t *testing.T) {
	for _, heading := range []string{"Quick start (dev server)", "Key/value secrets"} {
		t.Run(heading, func(t *testing.T) {
			p, _ := startDev(t, "root")
			dir := t.TempDir()
			if err := os.Symlink(arcaBin, filepath.Join(dir, "arca")); err != nil {
				t.Fatal(err)
			}
			for _, line := range readmeCommands(t, heading) {
				if strings.HasPrefix(line, "export ") {
					continue
				}
				cmd := exec.Command("/bin/bash", "-e", "-o", "pipefail", "-c", line)
				cmd.Dir = dir
				cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "ARCA_ADDR=http://" + p.addr, "ARCA_TOKEN=root", "HOME=" + dir}
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("README command %q failed: %v\n%s", line, err, out)
				}
			}
		})
	}
}
