package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// startIn starts "arca args..." in dir and waits until addr answers.
func startIn(t *testing.T, dir, addr string, args []string) *proc {
	t.Helper()
	p := &proc{t: t, addr: addr, done: make(chan struct{})}
	p.cmd = exec.Command(arcaBin, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout = lockedWriter{&p.mu, &p.stdout}
	p.cmd.Stderr = lockedWriter{&p.mu, &p.stderr}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	p.waitHealthy()
	return p
}

// TestREADMETransitSeal follows the README's transit seal section as a
// user would, block after block in one directory, on free ports. The test
// starts the servers the section starts (restarting the node when it is
// started again), and, like a person reading on, lets an initialised node
// finish unsealing itself before the next block.
func TestREADMETransitSeal(t *testing.T) {
	uAddr, nAddr := freeAddr(t), freeAddr(t)
	dir := t.TempDir()
	if err := os.Symlink(arcaBin, filepath.Join(dir, "arca")); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state.sh")
	run := func(lines []string) string {
		t.Helper()
		if len(strings.TrimSpace(strings.Join(lines, ""))) == 0 {
			return ""
		}
		script := "if [ -f state.sh ]; then . ./state.sh; fi\n" + strings.Join(lines, "\n") + "\nexport -p > " + state + "\n"
		cmd := exec.Command("/bin/bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("README block failed: %v\n%s\nscript:\n%s", err, out, script)
		}
		return string(out)
	}
	var node *proc
	var all strings.Builder
	for _, block := range readmeShBlocks(t, "Auto-unseal with another server's transit key") {
		var pending []string
		for _, line := range block {
			line = strings.NewReplacer("127.0.0.1:8300", uAddr, "127.0.0.1:8200", nAddr).Replace(line)
			fields := strings.Fields(strings.TrimSuffix(strings.TrimSpace(line), "&"))
			switch {
			case strings.HasPrefix(line, "go build"):
			case len(fields) > 1 && fields[0] == "./arca" && fields[1] == "server":
				all.WriteString(run(pending))
				pending = nil
				if strings.Contains(line, "-dev") {
					startIn(t, dir, uAddr, fields[1:])
					continue
				}
				if node != nil {
					node.kill()
				}
				node = startIn(t, dir, nAddr, fields[1:])
			default:
				pending = append(pending, line)
			}
		}
		all.WriteString(run(pending))
		if node != nil {
			if st, err := newClient(t, nAddr, "").Sys().SealStatus(); err == nil && st.Initialized {
				waitSealState(t, node, false)
			}
		}
	}
	for _, want := range []string{"Seal Type", "transit", "s3cr3t"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("the README's commands did not print %q:\n%s", want, all.String())
		}
	}
}
