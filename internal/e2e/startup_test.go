package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"
)

// runArca runs arca to completion (or 20s) and returns its exit code and
// combined output.
func runArca(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("arca did not exit:\n%s", out.String())
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

func TestConfigErrorsNameFileLineAndKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.hcl")
	src := "storage \"inmem\" {}\nlistener \"tcp\" {\n  address = \"127.0.0.1:0\"\n  tls_disable = true\n  tls_cert = \"x\"\n}\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := runArca(t, exec.Command(arcaBin, "server", "-config="+path))
	if code == 0 {
		t.Fatalf("arca started with an unknown key:\n%s", out)
	}
	for _, want := range []string{"bad.hcl", ":5", "tls_cert"} {
		if !strings.Contains(out, want) {
			t.Errorf("error output lacks %q:\n%s", want, out)
		}
	}
}

// startCmd starts an already-built command as a server and waits for it.
func startCmd(t *testing.T, cmd *exec.Cmd, addr string) *proc {
	t.Helper()
	p := &proc{t: t, cmd: cmd, addr: addr, done: make(chan struct{})}
	cmd.Stdout = lockedWriter{&p.mu, &p.stdout}
	cmd.Stderr = lockedWriter{&p.mu, &p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	p.waitHealthy()
	return p
}

// TestAcknowledgedWritesSurviveKill writes secrets, kills the server with
// SIGKILL right after the last acknowledgement, and finds them all after a
// restart.
func TestAcknowledgedWritesSurviveKill(t *testing.T) {
	p, c, dbPath, init := initServer(t)
	_ = dbPath
	unseal(t, c, init.Keys[:3]...)
	c.SetToken(init.RootToken)
	if err := c.Sys().Mount("secret", &api.MountInput{Type: "kv-v2"}); err != nil {
		t.Fatal(err)
	}
	const n = 50
	for i := range n {
		if _, err := c.KVv2("secret").Put(t.Context(), fmt.Sprintf("k%d", i), map[string]any{"i": fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	p.kill()
	startArca(t, p.addr, p.cmd.Args[2:]...)
	unseal(t, c, init.Keys[2:5]...)
	for i := range n {
		s, err := c.KVv2("secret").Get(t.Context(), fmt.Sprintf("k%d", i))
		if err != nil || s.Data["i"] != fmt.Sprint(i) {
			t.Fatalf("k%d after kill -9: %v, %v", i, s, err)
		}
	}
}
