package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"
)

// A caller attested on a connection passes the connection (SCM_RIGHTS)
// to another process between two requests. That process's request on it
// is refused, and so is every later one on the connection, the caller's
// own included: the agent re-checks the connection at each request, and
// the kernel names each request's writer. A process of another user is
// refused by the holder scan or by the writer check (whichever runs
// first: a process created anywhere on the host makes the scan run); one
// running the same executable as the same user passes the holder scan,
// so only the writer check can refuse it, and does.
func TestAgentRefusesAConnectionPassedToAnotherProcess(t *testing.T) {
	requireRoot(t)
	srv, root := startDev(t, "root")
	f := newAgentFixture(t, srv, root)
	self := selfRole(t, root)
	uidB, gidB := testUser(t, "arca-wl-b")
	// uid B runs a copy of this binary it can reach.
	helper := filepath.Join(f.dir, "helper")
	copyFile(t, self, helper, 0o755)
	for _, tc := range []struct {
		name     string
		exe      string
		uid, gid uint32
		want     []string // the refusal says one of these
	}{
		{name: "another user", exe: helper, uid: uidB, gid: gidB, want: []string{"written to by pid", "shared with pid"}},
		{name: "the same executable and user", exe: self, uid: 0, gid: 0, want: []string{"written to by pid"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			passConnection(t, f, tc.exe, tc.uid, tc.gid, tc.want)
		})
	}
}

// passConnection starts a receiver (exe as uid:gid; before the first
// request, so that no process is created between the two requests),
// reads the secret on a connection of this process, hands the connection
// to the receiver and checks that its request, and this process's next
// one, are refused, and that a new connection is served.
func passConnection(t *testing.T, f *agentFixture, exe string, uid, gid uint32, want []string) {
	pair, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(pair[0]), "ours"), os.NewFile(uintptr(pair[1]), "theirs")
	defer ours.Close()
	recv := exec.Command(exe)
	recv.Env = []string{helperEnv + "=recv-fd"}
	recv.ExtraFiles = []*os.File{theirs}
	recv.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	var mu sync.Mutex
	var out, errOut strings.Builder
	recv.Stdout, recv.Stderr = lockedStringWriter{&mu, &out}, lockedStringWriter{&mu, &errOut}
	if err := recv.Start(); err != nil {
		t.Fatal(err)
	}
	theirs.Close()
	t.Cleanup(func() { _ = recv.Process.Kill(); _ = recv.Wait() })

	conn, err := net.Dial("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ask := appReader(t, conn)
	if code, body := ask(); code != 200 || !strings.Contains(body, "s3cret-for-app") {
		t.Fatalf("the caller's own first request: %d %s\nagent:\n%s", code, body, f.output())
	}

	// Hand the connection to the receiver.
	cf, err := conn.(*net.UnixConn).File()
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Sendmsg(int(ours.Fd()), []byte{0}, syscall.UnixRights(int(cf.Fd())), nil, 0); err != nil {
		t.Fatal(err)
	}
	cf.Close()
	agentEventually(t, 15*time.Second, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(out.String(), helperEnd), "the receiver's answer: " + out.String() + errOut.String()
	})
	mu.Lock()
	got, _, _ := strings.Cut(out.String(), helperEnd)
	mu.Unlock()
	said := false
	for _, w := range want {
		said = said || strings.Contains(got, w)
	}
	if !strings.HasPrefix(got, "HTTP/1.1 403") || strings.Contains(got, "s3cret") || !said {
		t.Fatalf("uid %d (%s) on the passed connection: %q, want a 403 saying one of %q\nagent:\n%s", uid, exe, got, want, f.output())
	}
	t.Logf("uid %d refused: %s", uid, firstLine(got, "errors"))
	// The caller's own next request on that connection is refused too.
	if code, body := ask(); code != 403 || strings.Contains(body, "s3cret") {
		t.Fatalf("the caller's request after handing the connection on: %d %s", code, body)
	}
	// A new connection of the caller's is attested afresh and served.
	if code, body := f.get("/v1/secret/data/app"); code != 200 || !strings.Contains(body, "s3cret-for-app") {
		t.Fatalf("a new connection: %d %s", code, body)
	}
}

type lockedStringWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedStringWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// recvFD is the receiver of TestAgentRefusesAConnectionPassedToAnotherProcess:
// it takes a connection from fd 3 (SCM_RIGHTS), sends a request on it and
// prints the answer's status line and body.
func recvFD() int {
	oob := make([]byte, syscall.CmsgSpace(4))
	_, oobn, _, _, err := syscall.Recvmsg(3, make([]byte, 1), oob, 0)
	if err != nil {
		return 30
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return 31
	}
	fds, err := syscall.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return 32
	}
	conn := os.NewFile(uintptr(fds[0]), "conn")
	if _, err := conn.Write([]byte("GET /v1/secret/data/app HTTP/1.1\r\nHost: localhost\r\n\r\n")); err != nil {
		return 33
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 34
	}
	b, _ := io.ReadAll(resp.Body)
	fmt.Printf("HTTP/1.1 %s\n%s%s", resp.Status, b, helperEnd)
	return 0
}

// selfRole makes workload role "self" for this test binary run as root
// (policy "app") and returns the binary's path.
func selfRole(t *testing.T, root *api.Client) string {
	t.Helper()
	self, _ := os.Executable()
	if _, err := root.Logical().Write("auth/workload/role/self", map[string]any{
		"bound_uids": "0", "bound_exe_paths": self, "token_policies": "app",
	}); err != nil {
		t.Fatal(err)
	}
	return self
}

// appReader asks for secret/data/app on conn, a raw connection to the
// agent's socket, each time it is called, and returns the answer's status
// and body.
func appReader(t *testing.T, conn net.Conn) func() (int, string) {
	br := bufio.NewReader(conn)
	return func() (int, string) {
		t.Helper()
		if _, err := io.WriteString(conn, "GET /v1/secret/data/app HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}
