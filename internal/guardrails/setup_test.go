package guardrails

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCIRunsTheREADMETestCommand keeps CI proving what the README tells a
// new user: the test command of the README's set-up is the one .ci/run
// ends with.
func TestCIRunsTheREADMETestCommand(t *testing.T) {
	const command = "./scripts/test"
	root := filepath.Join("..", "..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, setup, ok := strings.Cut(string(readme), "\n## Set up\n")
	if !ok {
		t.Fatal("README.md has no \"## Set up\" section")
	}
	setup, _, _ = strings.Cut(setup, "\n## ")
	var commands []string
	in := false
	for _, line := range strings.Split(setup, "\n") {
		switch {
		case strings.HasPrefix(line, "```sh"):
			in = true
		case strings.HasPrefix(line, "```"):
			in = false
		case in && strings.TrimSpace(line) != "" && !strings.HasPrefix(line, "#"):
			commands = append(commands, strings.TrimSpace(line))
		}
	}
	if len(commands) != 2 || commands[1] != command {
		t.Errorf("README set-up commands are %q; want two, the dev server and %s", commands, command)
	}
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(ci)), "\n")
	if last := lines[len(lines)-1]; !slices.Contains([]string{command, "exec " + command}, last) {
		t.Errorf(".ci/run ends with %q, want %s: CI must run the README's test command", last, command)
	}
}
