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
)

// A caller attested on a connection passes the connection (SCM_RIGHTS)
// to a process of another user between two requests. That process's
// request on it is refused, and so is every later one on the connection,
// the caller's own included: the agent re-checks the connection at each
// request, and the kernel names each request's writer.
func TestAgentRefusesAConnectionPassedToAnotherUser(t *testing.T) {
	requireRoot(t)
	srv, root := startDev(t, "root")
	f := newAgentFixture(t, srv, root)
	self, _ := os.Executable()
	if _, err := root.Logical().Write("auth/workload/role/self", map[string]any{
		"bound_uids": "0", "bound_exe_paths": self, "token_policies": "app",
	}); err != nil {
		t.Fatal(err)
	}
	uidB, gidB := testUser(t, "arca-wl-b")

	// The receiver runs as uid B from a copy of this binary it can reach,
	// and is started before the first request: no process is created
	// between the two requests.
	helper := filepath.Join(f.dir, "helper")
	copyFile(t, self, helper, 0o755)
	pair, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(pair[0]), "ours"), os.NewFile(uintptr(pair[1]), "theirs")
	defer ours.Close()
	recv := exec.Command(helper)
	recv.Env = []string{helperEnv + "=recv-fd"}
	recv.ExtraFiles = []*os.File{theirs}
	recv.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uidB, Gid: gidB}}
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
	br := bufio.NewReader(conn)
	ask := func() (int, string) {
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
	if code, body := ask(); code != 200 || !strings.Contains(body, "s3cret-for-app") {
		t.Fatalf("the caller's own first request: %d %s\nagent:\n%s", code, body, f.output())
	}

	// Hand the connection to uid B's process.
	uc := conn.(*net.UnixConn)
	cf, err := uc.File()
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
	if !strings.HasPrefix(got, "HTTP/1.1 403") || strings.Contains(got, "s3cret") ||
		!(strings.Contains(got, "written to by pid") || strings.Contains(got, "shared with pid")) {
		t.Fatalf("uid B's request on the passed connection: %q\nagent:\n%s", got, f.output())
	}
	t.Logf("uid %d refused: %s", uidB, firstLine(got, "errors"))
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

// recvFD is the receiver of TestAgentRefusesAConnectionPassedToAnotherUser:
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
