package e2e

import (
	"bytes"
	"fmt"
	"io"
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

// A workload gets its secret over the agent's socket with no token at
// all, by who the kernel says it is: uid A running curl reads; uid B, or
// uid A running another executable, is refused with the identity seen; a
// token the workload sends is ignored; the workload's own token never
// reaches it; deleting the role takes effect on the next request.
func TestAgentServesWorkloadsByKernelIdentity(t *testing.T) {
	requireRoot(t)
	srv, root := startDev(t, "root")
	auditLog := filepath.Join(t.TempDir(), "audit.log")
	if err := root.Sys().EnableAuditWithOptions("file", &api.EnableAuditOptions{Type: "file", Options: map[string]string{"file_path": auditLog}}); err != nil {
		t.Fatal(err)
	}
	f := newAgentFixture(t, srv, root)
	uidA, gidA := testUser(t, "arca-wl-a")
	uidB, gidB := testUser(t, "arca-wl-b")
	if _, err := root.Logical().Write("auth/workload/role/app", map[string]any{
		"bound_uids": []string{fmt.Sprint(uidA)}, "bound_exe_paths": []string{"/usr/bin/curl"},
		"token_policies": "app", "token_ttl": "10m",
	}); err != nil {
		t.Fatal(err)
	}

	code, body := f.curlAs(t, uidA, gidA, "/usr/bin/curl", "/v1/secret/data/app")
	if code != 200 || !strings.Contains(body, "s3cret-for-app") {
		t.Fatalf("uid A with curl: %d %s\nagent:\n%s", code, body, f.output())
	}
	code, body = f.curlAs(t, uidB, gidB, "/usr/bin/curl", "/v1/secret/data/app", "X-Vault-Token: root")
	if code != 403 || strings.Contains(body, "s3cret") || !strings.Contains(body, fmt.Sprintf("uid=%d", uidB)) {
		t.Fatalf("uid B (with a root token in its request): %d %s", code, body)
	}
	// The same uid with another executable (a copy of curl elsewhere).
	other := filepath.Join(f.dir, "bin", "curl")
	if err := os.MkdirAll(filepath.Dir(other), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, "/usr/bin/curl", other, 0o755)
	code, body = f.curlAs(t, uidA, gidA, other, "/v1/secret/data/app")
	if code != 403 || strings.Contains(body, "s3cret") || !strings.Contains(body, "exe="+other) {
		t.Fatalf("uid A with another executable: %d %s", code, body)
	}
	// The workload's token never leaves the agent, not even through
	// lookup-self; a path outside the API is not forwarded.
	code, body = f.curlAs(t, uidA, gidA, "/usr/bin/curl", "/v1/auth/token/lookup-self")
	if code != 200 || !strings.Contains(body, `"id":"[held by arca agent]"`) || !strings.Contains(body, `"exe_path":"/usr/bin/curl"`) {
		t.Fatalf("lookup-self: %d %s", code, body)
	}
	if code, _ = f.curlAs(t, uidA, gidA, "/usr/bin/curl", "/ui/"); code != 404 {
		t.Fatalf("a path outside /v1/: %d", code)
	}
	// Only what the role's policy grants.
	if code, _ = f.curlAs(t, uidA, gidA, "/usr/bin/curl", "/v1/sys/policies/acl/app"); code != 403 {
		t.Fatalf("beyond the role's policy: %d", code)
	}

	// A Vault/OpenBao client with no token, pointed at the socket, from
	// this process: refused until a role binds this executable.
	conf := api.DefaultConfig()
	conf.Address = "unix://" + f.sock
	conf.MaxRetries = 0
	c, err := api.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	c.ClearToken()
	if _, err := c.Logical().Read("secret/data/app"); statusOf(err) != 403 {
		t.Fatalf("the test binary before a role binds it: %v", err)
	}
	self, _ := os.Executable()
	if _, err := root.Logical().Write("auth/workload/role/tests", map[string]any{
		"bound_uids": "0", "bound_exe_paths": self, "token_policies": "app",
	}); err != nil {
		t.Fatal(err)
	}
	s, err := c.Logical().Read("secret/data/app")
	if err != nil || s == nil || s.Data["data"].(map[string]any)["password"] != "s3cret-for-app" {
		t.Fatalf("OpenBao client over the socket: %+v, %v", s, err)
	}

	// Deleting the role revokes its tokens: refused from the next request.
	if _, err := root.Logical().Delete("auth/workload/role/app"); err != nil {
		t.Fatal(err)
	}
	// Refused once the agent's 2s read cache has let the answer go.
	agentEventually(t, 10*time.Second, func() (bool, string) {
		code, body = f.curlAs(t, uidA, gidA, "/usr/bin/curl", "/v1/secret/data/app")
		return code == 403 && !strings.Contains(body, "s3cret"), fmt.Sprintf("after the role was deleted: %d %s", code, body)
	})
	// The audit trail: every request of the workload carries the agent
	// and the selectors it attested, in the clear.
	raw, err := os.ReadFile(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.Contains(l, `"path":"secret/data/app"`) && strings.Contains(l, `"operation":"read"`) {
			line = l
			break
		}
	}
	for _, want := range []string{`"agent":"approle-host-agent"`, `"exe_path":"/usr/bin/curl"`, fmt.Sprintf(`"uid":"%d"`, uidA), `"role":"app"`} {
		if !strings.Contains(line, want) {
			t.Errorf("audit entry lacks %s: %s", want, line)
		}
	}
	if !strings.Contains(f.output(), "caller=\"pid=") {
		t.Errorf("the agent log does not name callers:\n%s", f.output())
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	out.Close()
}

// attack runs the helper in mode against the agent and returns what the
// child that kept the connection received. before runs once the parent
// has done its part (exec'd or died), before the child sends.
func attack(t *testing.T, f *agentFixture, mode string, before func(parentPID int)) string {
	t.Helper()
	self, _ := os.Executable()
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "ARCA_E2E_SOCK="+f.sock)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = lockedWriter{&mu, &out}, lockedWriter{&mu, &errOut}
	read := func(b *bytes.Buffer) string {
		mu.Lock()
		defer mu.Unlock()
		return b.String()
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	parent := cmd.Process.Pid
	// Wait for the parent to become /usr/bin/sleep (or to exit).
	deadline := time.Now().Add(10 * time.Second)
	for {
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", parent))
		if mode == "connect-die" {
			if st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", parent)); err != nil || strings.Contains(string(st), ") Z ") {
				break
			}
		} else if exe == "/usr/bin/sleep" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("helper did not reach its state: %s", read(&errOut))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if mode == "connect-die" {
		_, _ = cmd.Process.Wait() // reap: the pid is free for reuse
	}
	if before != nil {
		before(parent)
	}
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	// The child prints the agent's whole answer, then helperEnd.
	agentEventually(t, 15*time.Second, func() (bool, string) {
		return strings.Contains(read(&out), helperEnd), "the helper's answer: " + read(&out) + read(&errOut)
	})
	got, _, _ := strings.Cut(read(&out), helperEnd)
	return got
}

// Connect-then-exec: a process connects, keeps the connection in a child,
// and execs a trusted binary, so the peer pid shows that binary. The
// agent sees who holds the connection and refuses.
func TestAgentRefusesConnectThenExec(t *testing.T) {
	requireRoot(t)
	srv, root := startDev(t, "root")
	f := newAgentFixture(t, srv, root)
	// The trusted binary, bound by executable alone.
	if _, err := root.Logical().Write("auth/workload/role/trusted", map[string]any{
		"bound_exe_paths": "/usr/bin/sleep", "token_policies": "app",
	}); err != nil {
		t.Fatal(err)
	}
	got := attack(t, f, "connect-exec", nil)
	if !strings.HasPrefix(got, "HTTP/1.1 403") || strings.Contains(got, "s3cret") || !strings.Contains(got, "the connection is shared with pid") {
		t.Fatalf("fork-then-exec attack: %q\nagent:\n%s", got, f.output())
	}
	got = attack(t, f, "connect-exec-cloexec", nil)
	if !strings.HasPrefix(got, "HTTP/1.1 403") || strings.Contains(got, "s3cret") || !strings.Contains(got, "no longer holds the connection") {
		t.Fatalf("exec with the parent's copy closed: %q", got)
	}
	t.Logf("refused: %s", firstLine(got, "errors"))
}

// PID reuse: the caller connects, hands its connection to a child and
// dies; a trusted process is started with the same pid. The agent must
// not take the new process for the caller.
func TestAgentRefusesReusedPID(t *testing.T) {
	requireRoot(t)
	if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte("1000"), 0); err != nil {
		testenv.Unavailable(t, "cannot choose the next pid here (%v), so the reuse cannot be staged", err)
	}
	srv, root := startDev(t, "root")
	f := newAgentFixture(t, srv, root)
	if _, err := root.Logical().Write("auth/workload/role/trusted", map[string]any{
		"bound_exe_paths": "/usr/bin/sleep", "token_policies": "app",
	}); err != nil {
		t.Fatal(err)
	}
	reused := false
	got := attack(t, f, "connect-die", func(pid int) {
		for range 50 {
			_ = os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(fmt.Sprint(pid-1)), 0)
			trusted := exec.Command("/usr/bin/sleep", "20")
			if err := trusted.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = trusted.Process.Kill(); _ = trusted.Wait() })
			if trusted.Process.Pid == pid {
				reused = true
				return
			}
			_ = trusted.Process.Signal(syscall.SIGKILL)
		}
	})
	if !reused {
		t.Skip("could not get the dead caller's pid back (another process took it)")
	}
	if !strings.HasPrefix(got, "HTTP/1.1 403") || strings.Contains(got, "s3cret") || !(strings.Contains(got, "reused") || strings.Contains(got, "no longer holds")) {
		t.Fatalf("pid reuse: %q\nagent:\n%s", got, f.output())
	}
	t.Logf("refused: %s", firstLine(got, "errors"))
}
