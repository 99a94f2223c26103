package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"

	"github.com/arca-secrets/arca/internal/testenv"
)

// A role bound to a cgroup: the same user and executable are served only
// from inside it (the machine's unified cgroup hierarchy allowing).
func TestAgentCgroupBinding(t *testing.T) {
	requireRoot(t)
	base := "/sys/fs/cgroup/unified"
	if _, err := os.Stat(base + "/cgroup.procs"); err != nil {
		base = "/sys/fs/cgroup"
	}
	name := fmt.Sprintf("arca-test-%d", os.Getpid())
	dir := filepath.Join(base, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		testenv.Unavailable(t, "cannot create a cgroup here: %v", err)
	}
	t.Cleanup(func() { _ = os.Remove(dir) })
	cg, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	srv, root := startDev(t, "root")
	f := newAgentFixture(t, srv, root)
	uid, gid := testUser(t, "arca-wl-a")
	if _, err := root.Logical().Write("auth/workload/role/grouped", map[string]any{
		"bound_uids": fmt.Sprint(uid), "bound_cgroups": "/arca-test-*", "token_policies": "app",
	}); err != nil {
		t.Fatal(err)
	}
	code, body := f.curlIn(t, cg, uid, gid, "/usr/bin/curl", "/v1/secret/data/app")
	if code != 200 || !strings.Contains(body, "s3cret-for-app") {
		t.Fatalf("inside the cgroup: %d %s\n%s", code, body, f.output())
	}
	code, body = f.curlAs(t, uid, gid, "/usr/bin/curl", "/v1/secret/data/app")
	if code != 403 || strings.Contains(body, "s3cret") {
		t.Fatalf("outside the cgroup: %d %s", code, body)
	}
}

// The agent keeps serving across a server restart: its own token and the
// workloads' live in the server's durable storage.
func TestAgentSurvivesServerRestart(t *testing.T) {
	requireRoot(t)
	addr := freeAddr(t)
	conf := writeConfig(t, addr, fmt.Sprintf("storage \"bolt\" {\n  path = %q\n}", filepath.Join(t.TempDir(), "arca.db")))
	srv := startArca(t, addr, "-config="+conf)
	c := newClient(t, addr, "")
	init := initAndUnseal(t, c)
	if err := c.Sys().Mount("secret", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	f := newAgentFixture(t, srv, c)
	self, _ := os.Executable()
	if _, err := c.Logical().Write("auth/workload/role/tests", map[string]any{"bound_uids": "0", "bound_exe_paths": self, "token_policies": "app"}); err != nil {
		t.Fatal(err)
	}
	if code, body := f.get("/v1/secret/data/app"); code != 200 {
		t.Fatalf("before restart: %d %s", code, body)
	}
	srv.kill()
	// Once the 2s read cache has let the answer go, the agent says why.
	agentEventually(t, 10*time.Second, func() (bool, string) {
		code, body := f.get("/v1/secret/data/app")
		return code == 502 && strings.Contains(body, "unreachable"), fmt.Sprintf("while the server is down: %d %s", code, body)
	})
	srv = startArca(t, addr, "-config="+conf)
	unseal(t, c, init.Keys[0])
	if code, body := f.get("/v1/secret/data/app"); code != 200 || !strings.Contains(body, "s3cret-for-app") {
		t.Fatalf("after restart: %d %s\n%s", code, body, f.output())
	}
}

// Bad input: garbage on the socket, a client that sends nothing, a socket
// path already taken, a caller in a PID namespace the agent cannot see.
func TestAgentBadInput(t *testing.T) {
	requireRoot(t)
	srv, root := startDev(t, "root")
	f := newAgentFixture(t, srv, root)
	self, _ := os.Executable()
	if _, err := root.Logical().Write("auth/workload/role/tests", map[string]any{"bound_uids": "0", "bound_exe_paths": self, "token_policies": "app"}); err != nil {
		t.Fatal(err)
	}
	// A silent client holds a connection; garbage gets 400; others are
	// served meanwhile.
	silent, err := net.Dial("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	g, err := net.Dial("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = g.Write([]byte("\x00\x01garbage\r\n\r\n"))
	buf := make([]byte, 64)
	_ = g.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := g.Read(buf)
	g.Close()
	if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 400") {
		t.Fatalf("garbage: %q", buf[:n])
	}
	if code, _ := f.get("/v1/secret/data/app"); code != 200 {
		t.Fatalf("served while a silent client waits: %d", code)
	}

	// A second agent on the same socket, and on a path that is a file.
	out, err := exec.Command(arcaBin, "agent", "-config", f.conf).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another listener") {
		t.Fatalf("second agent: %v %s", err, out)
	}
	file := filepath.Join(f.dir, "not-a-socket")
	if err := os.WriteFile(file, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf2 := filepath.Join(f.dir, "agent2.hcl")
	raw, _ := os.ReadFile(f.conf)
	_ = os.WriteFile(conf2, []byte(strings.Replace(string(raw), f.sock, file, 1)), 0o600)
	out, err = exec.Command(arcaBin, "agent", "-config", conf2).CombinedOutput()
	if kept, _ := os.ReadFile(file); err == nil || !strings.Contains(string(out), "is not a socket") || string(kept) != "keep me" {
		t.Fatalf("socket path is a file: %v %s", err, out)
	}
	// Config errors are reported, all at once.
	_ = os.WriteFile(conf2, []byte("arca { address = \"ftp://x\" }\nlistener \"tcp\" { address = \"0.0.0.0:1\" }\nbogus = 1\n"), 0o600)
	out, _ = exec.Command(arcaBin, "agent", "-config", conf2).CombinedOutput()
	for _, want := range []string{"arca.address must be", "auto_auth", "loopback", `unknown key "bogus"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("config errors lack %q: %s", want, out)
		}
	}

}

// A caller in a PID namespace the agent cannot see (SO_PEERCRED gives pid
// 0) is refused with a message that says so.
func TestAgentOtherPIDNamespace(t *testing.T) {
	requireRoot(t)
	if out, err := exec.Command("unshare", "--pid", "--fork", "--mount-proc", "true").CombinedOutput(); err != nil {
		testenv.Unavailable(t, "cannot create a PID namespace here: %v %s", err, out)
	}
	srv, root := startDev(t, "root")
	f := newAgentFixture(t, srv, root)
	// A second agent, in a new PID namespace with its own /proc, serving
	// another socket; the secret ID was consumed, so give it a new one.
	sid, err := root.Logical().Write("auth/approle/role/host-agent/secret-id", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "secret_id"), []byte(sid.Data["secret_id"].(string)), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(f.dir, "ns.sock")
	raw, _ := os.ReadFile(f.conf)
	conf := filepath.Join(f.dir, "ns.hcl")
	if err := os.WriteFile(conf, []byte(strings.Replace(string(raw), f.sock, sock, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "--pid", "--fork", "--kill-child", "--mount-proc", arcaBin, "agent", "-config", conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	ns := &agentFixture{sock: sock}
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := ns.get("/v1/secret/data/app")
		if code == 403 {
			if !strings.Contains(body, "PID namespace the agent cannot see (pid 0)") {
				t.Fatalf("caller outside the agent's PID namespace: %s", body)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespaced agent: %d %s\n%s", code, body, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lockedBuffer is a bytes.Buffer safe for a process's output and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The agent forwards over TLS, verifying the server with ca_cert.
func TestAgentOverTLS(t *testing.T) {
	requireRoot(t)
	p, c, certPath := startInitializedTLS(t)
	f := newAgentFixture(t, p, c, certPath)
	self, _ := os.Executable()
	if _, err := c.Logical().Write("auth/workload/role/tests", map[string]any{"bound_uids": "0", "bound_exe_paths": self, "token_policies": "app"}); err != nil {
		t.Fatal(err)
	}
	if code, body := f.get("/v1/secret/data/app"); code != 200 || !strings.Contains(body, "s3cret-for-app") {
		t.Fatalf("over TLS: %d %s\n%s", code, body, f.output())
	}
}
