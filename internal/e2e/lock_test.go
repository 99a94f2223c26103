package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/openbao/openbao/api/v2"

	"github.com/arca-secrets/arca/internal/testenv"
)

// TestLockLimit runs the server as an unprivileged user (root ignores
// RLIMIT_MEMLOCK) under a small lock limit: it must refuse to start and say
// how to fix it, unless disable_mlock is set; and under a limit that fits
// its key pages (far below what mlockall would need) it must start.
func TestLockLimit(t *testing.T) {
	testenv.RequireRoot(t, "runs the server as an unprivileged user")
	dir, err := os.MkdirTemp("", "arca-lock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(limitKiB int, extra string) (int, string, *exec.Cmd) {
		addr := freeAddr(t)
		conf := filepath.Join(dir, fmt.Sprintf("arca-%d-%t.hcl", limitKiB, extra != ""))
		body := fmt.Sprintf("storage \"inmem\" {}\nlistener \"tcp\" {\n address = %q\n tls_disable = true\n}\n%s\n", addr, extra)
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("/bin/sh", "-c", fmt.Sprintf("ulimit -l %d && exec %s server -config=%s", limitKiB, arcaBin, conf))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		return 0, addr, cmd
	}

	_, _, cmd := run(16, "")
	code, out := runArca(t, cmd)
	if code == 0 {
		t.Fatalf("server started under a 16 KiB lock limit without disable_mlock:\n%s", out)
	}
	for _, want := range []string{"ulimit -l", "LimitMEMLOCK", "disable_mlock"} {
		if !strings.Contains(out, want) {
			t.Errorf("refusal does not mention %q:\n%s", want, out)
		}
	}

	// disable_mlock: starts, with a warning.
	_, addr, cmd := run(16, "disable_mlock = true")
	p := startCmd(t, cmd, addr)
	if !strings.Contains(p.output(), "disable_mlock") {
		t.Errorf("no warning about unlocked memory:\n%s", p.output())
	}

	// A limit of 512 KiB is enough: only key pages are locked.
	_, addr, cmd = run(512, "")
	startCmd(t, cmd, addr)
	c := newClient(t, addr, "")
	init, err := c.Sys().Init(&api.InitRequest{SecretShares: 3, SecretThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	if st := unseal(t, c, init.Keys[:2]...); st.Sealed {
		t.Fatal("still sealed")
	}
}
