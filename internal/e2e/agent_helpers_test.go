package e2e

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"

	"github.com/arca-secrets/arca/internal/testenv"
)

// helperEnv makes the e2e test binary act as a helper process (an
// attacker in the agent tests) instead of running tests.
const helperEnv = "ARCA_E2E_HELPER"

// helperEnd follows the whole answer in a helper's output.
const helperEnd = "\n--arca-e2e-helper-end--\n"

// agentFixture is a dev server, the workload method, and a running agent
// whose socket any local user can reach.
type agentFixture struct {
	t      testing.TB
	root   *api.Client
	server *proc
	dir    string
	sock   string
	conf   string
	agent  *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer
	done   chan struct{}
	// logLevel is the agent's -log-level (default info).
	logLevel string
	// cache is the agent's cache block (default: a 2s read cache).
	cache string
	// env is added to the environment of an agent startNoListener starts.
	env []string
}

func requireRoot(t testing.TB) {
	t.Helper()
	testenv.RequireRoot(t, "the agent tests create users and run processes as them")
}

// newAgentFixture sets up the server behind root (reached at
// root.Address(); caCert verifies it when that is https) and starts an
// agent that logs in with AppRole.
func newAgentFixture(t testing.TB, server *proc, root *api.Client, caCert ...string) *agentFixture {
	t.Helper()
	return newAgentFixtureWith(t, server, root, "", caCert...)
}

// newAgentFixtureWith is newAgentFixture with more configuration (extra
// is appended to the agent's file).
func newAgentFixtureWith(t testing.TB, server *proc, root *api.Client, extra string, caCert ...string) *agentFixture {
	t.Helper()
	f := prepareAgent(t, server, root)
	f.writeAppRoleConfig(extra, caCert...)
	f.start()
	return f
}

// writeAppRoleConfig gives the agent an AppRole login (role host-agent,
// policy "agent") and writes its config file: a socket any local user can
// reach, a short read cache, and extra.
func (f *agentFixture) writeAppRoleConfig(extra string, caCert ...string) {
	t, root := f.t, f.root
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(root.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}))
	_, err := root.Logical().Write("auth/approle/role/host-agent", map[string]any{"token_policies": "agent", "token_ttl": "1h"})
	must(err)
	rid, err := root.Logical().Read("auth/approle/role/host-agent/role-id")
	must(err)
	sid, err := root.Logical().Write("auth/approle/role/host-agent/secret-id", nil)
	must(err)
	must(os.WriteFile(filepath.Join(f.dir, "role_id"), []byte(rid.Data["role_id"].(string)), 0o600))
	must(os.WriteFile(filepath.Join(f.dir, "secret_id"), []byte(sid.Data["secret_id"].(string)), 0o600))
	must(os.WriteFile(f.conf, []byte(fmt.Sprintf(`
arca { address = "%s" %s }
auto_auth {
  method "approle" {
    config = { role_id_file_path = "%s/role_id"  secret_id_file_path = "%s/secret_id" }
  }
}
listener "unix" { address = "%s"  socket_mode = "0666" }
%s
%s
`, root.Address(), caLine(caCert), f.dir, f.dir, f.sock, cmp.Or(f.cache, `cache { kv_ttl = "2s" }`), extra)), 0o600))
}

// writeExecChildConfig makes role svc for the exec child's user (uid,
// bound to /usr/bin/dash plus bind's selectors, policy "app"), a directory
// that user owns, and the agent's config: its child runs script under
// /bin/sh as user, with APP_PASSWORD from secret/data/app in its
// environment; SEEN in script stands for a file in that directory, whose
// path is returned.
func (f *agentFixture) writeExecChildConfig(user string, uid, gid uint32, bind map[string]any, script string) string {
	t := f.t
	t.Helper()
	role := map[string]any{"bound_uids": []string{fmt.Sprint(uid)}, "bound_exe_paths": []string{"/usr/bin/dash"}, "token_policies": "app", "token_ttl": "10m"}
	maps.Copy(role, bind)
	if _, err := f.root.Logical().Write("auth/workload/role/svc", role); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(f.dir, "out")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(out, int(uid), int(gid)); err != nil {
		t.Fatal(err)
	}
	seen := filepath.Join(out, "seen")
	f.writeAppRoleConfig(fmt.Sprintf(`
template_config { static_secret_render_interval = "1h" }
env_template "APP_PASSWORD" {
  contents = "{{ with secret \"secret/data/app\" }}{{ .Data.data.password }}{{ end }}"
}
exec {
  command = ["/bin/sh", "-c", %q]
  user = %q
  restart_stop_timeout = "2s"
}`, strings.ReplaceAll(script, "SEEN", seen), user))
	return seen
}

// deleteChildRole deletes role svc (writeExecChildConfig) and waits for
// the agent, which stops its child when the child's identity is revoked,
// to exit.
func (f *agentFixture) deleteChildRole() {
	t := f.t
	t.Helper()
	if _, err := f.root.Logical().Delete("auth/workload/role/svc"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the agent did not stop its child after the role was deleted:\n%s", f.output())
	}
}

// prepareAgent gives the server behind root what every agent test uses
// (the "agent" policy that may log workloads in, the "app" policy, the
// workload method, the secret at secret/data/app) and returns a fixture
// with a directory for the agent's files; its config is the caller's.
func prepareAgent(t testing.TB, server *proc, root *api.Client) *agentFixture {
	t.Helper()
	requireRoot(t)
	dir, err := os.MkdirTemp("", "arca-agent-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// Reachable by the unprivileged test users; the files inside are not.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(root.Sys().PutPolicy("agent", `path "auth/workload/login" { capabilities = ["update"] }`))
	must(root.Sys().PutPolicy("app", `path "secret/data/app" { capabilities = ["read"] }`))
	must(root.Sys().EnableAuthWithOptions("workload", &api.EnableAuthOptions{Type: "workload"}))
	_, err = root.Logical().Write("secret/data/app", map[string]any{"data": map[string]any{"password": "s3cret-for-app"}})
	must(err)
	return &agentFixture{t: t, root: root, server: server, dir: dir, sock: filepath.Join(dir, "agent.sock"), conf: filepath.Join(dir, "agent.hcl")}
}

func (f *agentFixture) start() {
	t := f.t
	f.out.Reset()
	f.agent = exec.Command(arcaBin, "agent", "-config", f.conf, "-log-level", cmp.Or(f.logLevel, "info"))
	f.agent.Stdout = lockedWriter{&f.mu, &f.out}
	f.agent.Stderr = lockedWriter{&f.mu, &f.out}
	if err := f.agent.Start(); err != nil {
		t.Fatal(err)
	}
	f.done = make(chan struct{})
	done := f.done
	cmd := f.agent
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	// Ready once it answers other than 503 (not yet authenticated).
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("agent exited (%v):\n%s", cmd.ProcessState, f.output())
		default:
		}
		if code, _ := f.get("/v1/sys/health"); code != 0 && code != 503 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent not ready:\n%s", f.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startNoListener starts an agent whose config has no listener (only
// templates), ready once it has subscribed to the server's events.
func (f *agentFixture) startNoListener() {
	t := f.t
	f.agent = exec.Command(arcaBin, "agent", "-config", f.conf)
	if f.env != nil {
		f.agent.Env = append(os.Environ(), f.env...)
	}
	f.agent.Stdout = lockedWriter{&f.mu, &f.out}
	f.agent.Stderr = lockedWriter{&f.mu, &f.out}
	if err := f.agent.Start(); err != nil {
		t.Fatal(err)
	}
	f.done = make(chan struct{})
	done, cmd := f.done, f.agent
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	agentEventually(t, 30*time.Second, func() (bool, string) {
		return strings.Contains(f.output(), "subscribed to change events"), "agent not subscribed:\n" + f.output()
	})
}

func (f *agentFixture) output() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.out.String()
}

// get sends a GET over the socket from this (the test) process.
func (f *agentFixture) get(path string) (int, string) {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", f.sock)
	}}}
	resp, err := c.Get("http://localhost" + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// testUser creates (once) an unprivileged user and returns its ids.
func testUser(t *testing.T, name string) (uid, gid uint32) {
	t.Helper()
	if _, err := user.Lookup(name); err != nil {
		if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
			t.Fatalf("useradd %s: %v %s", name, err, out)
		}
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := strconv.Atoi(u.Uid)
	b, _ := strconv.Atoi(u.Gid)
	return uint32(a), uint32(b)
}

// curlAs runs curl (or another executable taking curl's arguments) as
// uid:gid against the agent's socket and returns the status and body.
func (f *agentFixture) curlAs(t *testing.T, uid, gid uint32, exe, path string, headers ...string) (int, string) {
	t.Helper()
	return f.curlIn(t, nil, uid, gid, exe, path, headers...)
}

// curlIn is curlAs, started inside the cgroup open as cgroup (nil: the
// test's own).
func (f *agentFixture) curlIn(t *testing.T, cgroup *os.File, uid, gid uint32, exe, path string, headers ...string) (int, string) {
	t.Helper()
	return f.curl(t, curlReq{uid: uid, gid: gid, exe: exe, path: path, headers: headers, cgroup: cgroup})
}

// curlReq is one request by a curl process on the agent's socket.
type curlReq struct {
	uid, gid     uint32
	exe          string // default /usr/bin/curl
	method, path string
	body         string
	headers      []string
	env          []string // the process's whole environment (nil: none)
	cgroup       *os.File // nil: the test's own
	// unixSock, when set, replaces the agent's socket; tcp sends to
	// http://<tcp> instead of a socket.
	tcp string
	// withHeaders puts the answer's status line and headers before its
	// body.
	withHeaders bool
}

// curl runs the request as a separate process and returns its status and
// body.
func (f *agentFixture) curl(t *testing.T, r curlReq) (int, string) {
	t.Helper()
	cmd := r.command(f.sock)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s as %d: %v %s", cmd.Path, r.uid, err, out)
	}
	return parseCurl(out)
}

func (r curlReq) command(sock string) *exec.Cmd {
	exe := r.exe
	if exe == "" {
		exe = "/usr/bin/curl"
	}
	args := []string{"-s", "--path-as-is", "-w", "\n%{http_code}"}
	url := "http://" + r.tcp + r.path
	if r.tcp == "" {
		args = append(args, "--unix-socket", sock)
		url = "http://localhost" + r.path
	}
	if r.withHeaders {
		args = append(args, "-i")
	}
	if r.method != "" {
		args = append(args, "-X", r.method)
	}
	if r.body != "" {
		args = append(args, "-d", r.body)
	}
	for _, h := range r.headers {
		args = append(args, "-H", h)
	}
	cmd := exec.Command(exe, append(args, url)...)
	cmd.Env = r.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: r.uid, Gid: r.gid}}
	if r.cgroup != nil {
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(r.cgroup.Fd())
	}
	return cmd
}

func parseCurl(out []byte) (int, string) {
	s := strings.TrimRight(string(out), "\n")
	i := strings.LastIndexByte(s, '\n')
	code, _ := strconv.Atoi(s[i+1:])
	return code, s[:max(i, 0)]
}

// agentEventually polls cond until it holds, and fails the test with
// what cond last said when it has not within timeout.
func agentEventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runHelper is the attacker side of the agent tests. Modes:
//
//	connect-exec     connect, keep the connection across a fork to a
//	                 child that will use it, then exec a trusted binary
//	connect-exec-cloexec  the same, but the parent's own copy is closed by
//	                 the exec
//	use-fd           (the child) wait for a line on stdin, then send a
//	                 request on fd 3 and print the answer
//	share-preloaded  connect, keep a copy of the connection in a child of
//	                 this same binary started with LD_PRELOAD
//	                 (ARCA_E2E_PRELOAD), then send a request itself
//	hold-fd          (that child) hold fd 3 until killed
//	recv-fd          receive a connection over fd 3 (SCM_RIGHTS), send
//	                 a request on it and print the answer (agent_passfd_test.go)
func runHelper(mode string) int {
	sock := os.Getenv("ARCA_E2E_SOCK")
	switch mode {
	case "connect-exec", "connect-exec-cloexec", "connect-die":
		fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil {
			return 10
		}
		if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: sock}); err != nil {
			return 11
		}
		child := exec.Command(os.Args[0])
		child.Env = append(os.Environ(), helperEnv+"=use-fd")
		child.ExtraFiles = []*os.File{os.NewFile(uintptr(fd), "conn")}
		child.Stdin = os.Stdin
		child.Stdout = os.Stdout
		child.Stderr = os.Stderr
		if err := child.Start(); err != nil {
			return 12
		}
		fmt.Fprintf(os.Stderr, "pid %d\n", os.Getpid())
		if mode == "connect-die" {
			return 0 // the child keeps the connection; this pid is free
		}
		if mode == "connect-exec-cloexec" {
			syscall.CloseOnExec(fd)
		}
		// Become the trusted binary; the child still holds the connection.
		_ = syscall.Exec("/usr/bin/sleep", []string{"sleep", "20"}, os.Environ())
		return 13
	case "share-preloaded":
		// Connect, hand a copy of the connection to a child running this
		// same binary with LD_PRELOAD set, then send a request and print
		// the answer.
		fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil {
			return 10
		}
		if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: sock}); err != nil {
			return 11
		}
		conn := os.NewFile(uintptr(fd), "conn")
		child := exec.Command(os.Args[0])
		child.Env = append(os.Environ(), helperEnv+"=hold-fd", "LD_PRELOAD="+os.Getenv("ARCA_E2E_PRELOAD"))
		child.ExtraFiles = []*os.File{conn}
		out, err := child.StdoutPipe()
		if err != nil {
			return 12
		}
		if err := child.Start(); err != nil {
			return 13
		}
		defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
		// The child says when it runs (its loader has read LD_PRELOAD).
		if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
			return 14
		}
		if _, err := conn.Write([]byte("GET /v1/secret/data/app HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")); err != nil {
			return 15
		}
		b, _ := io.ReadAll(conn)
		os.Stdout.Write(b)
		os.Stdout.WriteString(helperEnd)
		return 0
	case "hold-fd":
		// Hold fd 3 until killed.
		os.Stdout.WriteString("holding\n")
		select {}
	case "recv-fd":
		return recvFD()
	case "use-fd":
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			return 20
		}
		conn := os.NewFile(3, "conn")
		if _, err := conn.Write([]byte("GET /v1/secret/data/app HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")); err != nil {
			return 21
		}
		b, _ := io.ReadAll(conn)
		os.Stdout.Write(b)
		os.Stdout.WriteString(helperEnd)
		return 0
	}
	return 2
}

func caLine(caCert []string) string {
	if len(caCert) == 0 {
		return ""
	}
	return fmt.Sprintf("ca_cert = %q", caCert[0])
}
