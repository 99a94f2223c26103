package attest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arca-secrets/arca/internal/testenv"
)

// helperEnv makes the test binary a caller that connects, then execs
// (see TestMain).
const helperEnv = "ARCA_ATTEST_HELPER"

func TestMain(m *testing.M) {
	switch mode := os.Getenv(helperEnv); mode {
	case "":
	case "reconnect":
		// TestConnWatchFollowsACgroupMove's caller: a connection, then
		// another when told to, each with a byte written.
		sock := os.Getenv("ARCA_ATTEST_SOCK")
		in := bufio.NewReader(os.Stdin)
		for range 2 {
			fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
			if err != nil || syscall.Connect(fd, &syscall.SockaddrUnix{Name: sock}) != nil {
				os.Exit(10)
			}
			if _, err := syscall.Write(fd, []byte("a")); err != nil {
				os.Exit(12)
			}
			if _, err := in.ReadString('\n'); err != nil {
				os.Exit(0)
			}
		}
		os.Exit(0)
	case "hold-then-exec":
		// TestConnRefusesANewHolder's child: it holds the connection
		// (fd 3) and execs /bin/sleep when told to.
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			os.Exit(13)
		}
		_ = syscall.Exec("/bin/sleep", []string{"sleep", "30"}, nil)
		os.Exit(15)
	default:
		os.Exit(execHelper(mode, os.Getenv("ARCA_ATTEST_SOCK")))
	}
	os.Exit(m.Run())
}

// execHelper connects to sock (a descriptor that survives exec), writes a
// byte, waits for a line on stdin, then, in mode "fork-exec", starts a
// child running another program (sh) that keeps a copy of the
// connection, and execs /bin/sleep.
func execHelper(mode, sock string) int {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return 10
	}
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: sock}); err != nil {
		return 11
	}
	if _, err := syscall.Write(fd, []byte("a")); err != nil {
		return 12
	}
	if mode == "exec-two" {
		// A second connection, kept across the exec too.
		fd2, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil || syscall.Connect(fd2, &syscall.SockaddrUnix{Name: sock}) != nil {
			return 16
		}
		if _, err := syscall.Write(fd2, []byte("b")); err != nil {
			return 17
		}
	}
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return 13
	}
	if mode == "fork-exec" {
		// It exits when the test closes this process's stdin.
		child := exec.Command("/bin/sh", "-c", "read x")
		child.Stdin = os.Stdin
		child.ExtraFiles = []*os.File{os.NewFile(uintptr(fd), "conn")}
		if err := child.Start(); err != nil {
			return 14
		}
	}
	_ = syscall.Exec("/bin/sleep", []string{"sleep", "30"}, nil)
	return 15
}

// A caller attested on a connection execs another program between two
// requests: the next request sees it and attests in full again, so the
// identity is the new program's, not the one kept from before; and one
// that forked a child keeping the connection before it exec'd is refused.
func TestConnNoticesExecBetweenRequests(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sleep, err := filepath.EvalSymlinks("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, mode string
		refused    string // "": the new program is attested
	}{
		{name: "exec", mode: "exec"},
		{name: "fork, then exec", mode: "fork-exec", refused: "shared with pid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, stdin, _ := helperOnSocket(t, self, tc.mode)
			nc, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			conn := nc.(*Conn)
			defer conn.Close()
			read(t, conn, 1)
			id, err := conn.Identity()
			if err != nil {
				t.Fatal(err)
			}
			if id.ExePath != self {
				t.Fatalf("before the exec: got exe %q, want %q", id.ExePath, self)
			}
			before, err := readProcState(id.PID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(stdin, "go\n"); err != nil {
				t.Fatal(err)
			}
			waitExe(t, id.PID, sleep)
			after, err := readProcState(id.PID)
			if err != nil {
				t.Fatal(err)
			}
			if after == before {
				t.Fatalf("exec left /proc/%d/stat and exe as they were: %+v", id.PID, after)
			}
			got, err := conn.Identity()
			if tc.refused != "" {
				if err == nil || !strings.Contains(err.Error(), tc.refused) {
					t.Fatalf("got %v, %v; want a refusal containing %q", got, err, tc.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ExePath != sleep || got.PID != id.PID {
				t.Fatalf("after the exec: got pid %d exe %q, want pid %d exe %q", got.PID, got.ExePath, id.PID, sleep)
			}
		})
	}
}

// Two connections of one process are watched as one: their re-checks
// share the process's files and checks. When the process execs, each
// connection sees it at its next request and attests the new program.
func TestConnsOfOneProcessShareAWatch(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sleep, err := filepath.EvalSymlinks("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	l, stdin, cmd := helperOnSocket(t, self, "exec-two")
	var conns [2]*Conn
	for i := range conns {
		nc, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = nc.(*Conn)
		defer conns[i].Close()
		read(t, conns[i], 1)
		if id, err := conns[i].Identity(); err != nil || id.ExePath != self {
			t.Fatalf("connection %d before the exec: %v, %v", i, id, err)
		}
	}
	w := conns[0].att.holders[0]
	if conns[1].att.holders[0] != w {
		t.Fatal("two connections of one process are watched apart")
	}
	checks := checksRun.Load()
	for _, c := range conns {
		if _, err := c.Identity(); err != nil {
			t.Fatal(err)
		}
	}
	if checksRun.Load() == checks {
		t.Fatal("requests were answered without a check of the process")
	}
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	waitExe(t, cmd.Process.Pid, sleep)
	for i, c := range conns {
		id, err := c.Identity()
		if err != nil || id.ExePath != sleep {
			t.Fatalf("connection %d after the exec: %v, %v; want %s", i, id, err, sleep)
		}
	}
	if conns[0].att.holders[0] == w || conns[0].att.holders[0] != conns[1].att.holders[0] {
		t.Fatal("after the exec, the connections are not watched together under a new watch")
	}
	// Closing one connection leaves the other's watch working.
	conns[0].Close()
	if _, err := conns[1].Identity(); err != nil || conns[1].att.holders[0].statFD < 0 {
		t.Fatalf("the other connection after one closed: %v", err)
	}
}

// A process attested on one connection moves to another cgroup and
// connects again: the new connection is attested in its new cgroup (the
// watch made for the first connection, which had not seen the move yet,
// is checked and replaced, not trusted), and the first connection's next
// request sees the move too.
func TestConnWatchFollowsACgroupMove(t *testing.T) {
	base := "/sys/fs/cgroup/unified" // the unified hierarchy, beside v1's
	if _, err := os.Stat(base + "/cgroup.procs"); err != nil {
		base = "/sys/fs/cgroup"
	}
	if _, err := os.Stat(base + "/cgroup.controllers"); err != nil {
		testenv.Unavailable(t, "no unified cgroup hierarchy at %s: %v", base, err)
	}
	dir := filepath.Join(base, fmt.Sprintf("arca-attest-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		testenv.Unavailable(t, "cannot create a cgroup here: %v", err)
	}
	t.Cleanup(func() { _ = os.Remove(dir) })
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	l, stdin, cmd := helperOnSocket(t, self, "reconnect")
	accept := func() *Conn {
		t.Helper()
		nc, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c := nc.(*Conn)
		t.Cleanup(func() { c.Close() })
		read(t, c, 1)
		return c
	}
	first := accept()
	id, err := first.Identity()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(fmt.Sprint(cmd.Process.Pid)), 0); err != nil {
		testenv.Unavailable(t, "cannot move a process to another cgroup: %v", err)
	}
	want := strings.TrimPrefix(dir, base)
	if _, err := io.WriteString(stdin, "again\n"); err != nil {
		t.Fatal(err)
	}
	second := accept()
	id2, err := second.Identity()
	if err != nil || id2.Cgroup != want || id.Cgroup == want {
		t.Fatalf("the new connection after the move: %v, %v; want cgroup %s (was %s)", id2, err, want, id.Cgroup)
	}
	if id1, err := first.Identity(); err != nil || id1.Cgroup != want {
		t.Fatalf("the first connection after the move: %v, %v; want cgroup %s", id1, err, want)
	}
}

// waitExe waits until pid runs exe and has settled into it: the exe link
// changes before the kernel has finished laying out the new program, so
// it also waits for the program to be asleep (sleep's nanosleep).
func waitExe(t *testing.T, pid int, exe string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		got, _ = os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if i := strings.LastIndexByte(string(stat), ')'); got == exe && i > 0 && strings.HasPrefix(string(stat[i+1:]), " S") {
			return
		}
		time.Sleep(5 * time.Millisecond) // polling the child's state
	}
	t.Fatalf("pid %d did not exec %s (runs %q)", pid, exe, got)
}

// helperOnSocket starts this test binary (self) as the helper in mode,
// told the path of a new Listener's socket, which it returns with the
// helper's stdin (closing it, or the test's end, stops the helper) and
// the helper.
func helperOnSocket(t *testing.T, self, mode string) (net.Listener, io.WriteCloser, *exec.Cmd) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.sock")
	l := listenAt(t, path)
	cmd := exec.Command(self)
	cmd.Env = []string{helperEnv + "=" + mode, "ARCA_ATTEST_SOCK=" + path}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Waited for, a helper gone leaves a cgroup it ran in empty to remove.
	t.Cleanup(func() { stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return l, stdin, cmd
}
