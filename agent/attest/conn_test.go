package attest

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listenAt is a Listener on a new socket at path, closed at the test's
// end.
func listenAt(t testing.TB, path string) net.Listener {
	t.Helper()
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewListener(ul)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// connPair is a connection from this process to a Listener, accepted.
func connPair(t testing.TB) (client *net.UnixConn, conn *Conn) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.sock")
	l := listenAt(t, path)
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ac, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ac.Close() })
	return c, ac.(*Conn)
}

// attestedPair is connPair with a first request written, read and its
// caller attested.
func attestedPair(t testing.TB) (*net.UnixConn, *Conn, *Identity) {
	t.Helper()
	client, conn := connPair(t)
	if _, err := client.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	read(t, conn, 1)
	id, err := conn.Identity()
	if err != nil {
		t.Fatal(err)
	}
	return client, conn, id
}

// read reads n bytes from conn, as the HTTP server would.
func read(t testing.TB, conn *Conn, n int) string {
	t.Helper()
	b := make([]byte, n)
	got := 0
	for got < n {
		m, err := conn.Read(b[got:])
		if err != nil {
			t.Fatal(err)
		}
		got += m
	}
	return string(b)
}

// longWindow makes the pid tracker trust readings however far apart
// (see newpids.go), so that a slow test machine does not make a
// re-check scan in full where the test looks for the probe.
func longWindow(t testing.TB) {
	w := newPIDs.setWindow(time.Hour)
	t.Cleanup(func() { newPIDs.setWindow(w) })
}

// The caller is attested once; later requests keep that attestation
// while nothing changed, and also when processes that do not hold the
// connection were created on the host: only those are looked at.
func TestConnAttestsOnceAndRechecks(t *testing.T) {
	longWindow(t)
	_, conn, id := attestedPair(t)
	if id.PID != os.Getpid() {
		t.Fatalf("pid: got %d, want %d", id.PID, os.Getpid())
	}
	first := conn.att
	again, err := conn.Identity()
	if err != nil || again != id || conn.att != first {
		t.Fatalf("a second request with nothing changed: %v, attested in full again: %v", err, conn.att != first)
	}
	full := FullAttestations(ReasonNewProcess) + FullAttestations(ReasonNewHolder)
	before := first.scanned
	// A new process on the host that does not hold the connection.
	if err := exec.Command("/bin/true").Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Identity(); err != nil {
		t.Fatal(err)
	}
	if conn.att != first || FullAttestations(ReasonNewProcess)+FullAttestations(ReasonNewHolder) != full {
		t.Fatal("a process that does not hold the connection was created, and the connection was attested in full again")
	}
	if first.scanned == before {
		t.Fatal("the re-check did not move past the new process's pid")
	}
}

// A process created after the holder scan that holds the connection (a
// child that inherited it) is found by the re-check's look at new pids,
// and the request is attested in full: refused when the child runs
// another program. A child of the same program is let be, but watched:
// once it execs another program, the next request is refused.
func TestConnRefusesANewHolder(t *testing.T) {
	longWindow(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sleep, err := filepath.EvalSymlinks("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		child []string // its argv; it holds the connection as fd 3
		exec  bool     // told to exec /bin/sleep once it is seen
	}{
		{name: "another program", child: []string{"/bin/sh", "-c", "read x"}},
		{name: "the same program, which then execs another", child: []string{self}, exec: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, conn, _ := attestedPair(t)
			f, err := client.File()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(tc.child[0], tc.child[1:]...)
			cmd.Env = []string{helperEnv + "=hold-then-exec"}
			cmd.ExtraFiles = []*os.File{f}
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			f.Close()
			t.Cleanup(func() { stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
			newHolder := FullAttestations(ReasonNewHolder)
			if !tc.exec {
				_, err := conn.Identity()
				if err == nil || !strings.Contains(err.Error(), "shared with pid") {
					t.Fatalf("a child running %s holds the connection: got %v, want a refusal", tc.child[0], err)
				}
				if FullAttestations(ReasonNewHolder) != newHolder+1 {
					t.Fatal("the refusal did not come from the look at new pids")
				}
				return
			}
			if _, err := conn.Identity(); err != nil {
				t.Fatalf("a child of the same program and user: %v", err)
			}
			if FullAttestations(ReasonNewHolder) != newHolder+1 || len(conn.att.holders) != 2 {
				t.Fatalf("the new holder was not found and watched (holders %d)", len(conn.att.holders))
			}
			if _, err := io.WriteString(stdin, "go\n"); err != nil {
				t.Fatal(err)
			}
			waitExe(t, cmd.Process.Pid, sleep)
			if _, err := conn.Identity(); err == nil || !strings.Contains(err.Error(), "shared with pid") {
				t.Fatalf("the child holding the connection exec'd %s: got %v, want a refusal", sleep, err)
			}
		})
	}
}

// The tracker's goroutine reads the newest pid while an attested
// connection is open and stops when the last one closes (an idle agent
// does not wake every few milliseconds); the next connection starts it
// again.
func TestPIDTrackerKeepsUpOnlyWhileHeld(t *testing.T) {
	keeping := func() bool {
		newPIDs.mu.Lock()
		defer newPIDs.mu.Unlock()
		return newPIDs.stop != nil
	}
	holders := func() int {
		newPIDs.mu.Lock()
		defer newPIDs.mu.Unlock()
		return newPIDs.holders
	}
	for round := range 2 {
		h0 := holders()
		_, conn, _ := attestedPair(t)
		if holders() != h0+1 || !keeping() {
			t.Fatalf("round %d: an attested connection open: holders %d (was %d), keeping up %v", round, holders(), h0, keeping())
		}
		conn.Close()
		if holders() != h0 || keeping() != (h0 > 0) {
			t.Fatalf("round %d: closed: holders %d (want %d), keeping up %v", round, holders(), h0, keeping())
		}
	}
}

// The tracker trusts two readings to name every new pid between them
// only when the second is not below the first (no wrap) and they are
// less than the window apart.
func TestPIDTrackerEpochs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loadavg")
	tr := &pidTracker{window: time.Hour} // no hold, so no keepUp: the test's readings only
	at := func(newest string) (int, uint64) {
		t.Helper()
		if err := os.WriteFile(path, []byte("0.50 0.40 0.30 2/120 "+newest+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Open(path, unix.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		tr.fd = fd
		pid, epoch, err := tr.sample(tickets.Add(1))
		if err != nil {
			t.Fatal(err)
		}
		return pid, epoch
	}
	p0, e0 := at("500")
	if p1, e1 := at("620"); p0 != 500 || p1 != 620 || e1 != e0 {
		t.Fatalf("500 then 620: got %d, %d (epochs %d, %d)", p0, p1, e0, e1)
	}
	if _, e2 := at("301"); e2 == e0 {
		t.Fatal("the newest pid went down (a wrap), and the epoch stayed")
	}
	_, e3 := at("400")
	tr.setWindow(time.Nanosecond)
	if _, e4 := at("401"); e4 == e3 {
		t.Fatal("readings farther apart than the window, and the epoch stayed")
	}
	tr.setWindow(time.Hour)
	for _, bad := range []string{"", "x", "1234567890"} {
		if err := os.WriteFile(path, []byte("0.50 0.40 0.30 2/120 "+bad+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		fd, _ := unix.Open(path, unix.O_RDONLY, 0)
		tr.fd = fd
		if _, _, err := tr.sample(tickets.Add(1)); err == nil {
			t.Errorf("newest pid %q: read without error", bad)
		}
		unix.Close(fd)
	}
}

// New threads of the caller's own process hold the connection (they
// share its descriptors) and have new pids, but they are that process:
// the attestation is kept.
func TestConnKeepsItAcrossNewThreadsOfTheCaller(t *testing.T) {
	longWindow(t)
	_, conn, _ := attestedPair(t)
	first := conn.att
	// Goroutines locked to their threads and blocked in a system call
	// each keep a thread: the runtime starts new ones for the rest.
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	defer unix.Close(fds[0])
	done := make(chan struct{})
	for range 4 {
		go func() {
			runtime.LockOSThread()
			var b [1]byte
			_, _ = unix.Read(fds[0], b[:])
			done <- struct{}{}
		}()
	}
	defer func() {
		_, _ = unix.Write(fds[1], []byte("wxyz"))
		for range 4 {
			<-done
		}
	}()
	agentTasks := func() (newer int) {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if tid, _ := strconv.Atoi(e.Name()); tid > first.scanned {
				newer++
			}
		}
		return newer
	}
	deadline := time.Now().Add(10 * time.Second)
	for agentTasks() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no new thread started")
		}
		runtime.Gosched()
	}
	if _, err := conn.Identity(); err != nil {
		t.Fatal(err)
	}
	if conn.att != first {
		t.Fatal("a new thread of the caller made the connection attest in full")
	}
}

// More new pids than maxProbe since the last look: scanned in full, not
// one by one.
func TestConnScansInFullPastMaxProbe(t *testing.T) {
	longWindow(t)
	_, conn, _ := attestedPair(t)
	first := conn.att
	first.scanned -= maxProbe + 1 // as if that many pids were handed out since
	n := FullAttestations(ReasonNewProcess)
	if _, err := conn.Identity(); err != nil {
		t.Fatal(err)
	}
	if conn.att == first || FullAttestations(ReasonNewProcess) != n+1 {
		t.Fatal("past maxProbe new pids, the connection was not attested in full")
	}
}

// Bytes written on the connection by another process (here a child that
// got the descriptor) make every later request on it refused, even once
// that process has exited and the holder scan finds no one else.
func TestConnRefusesAnotherWriter(t *testing.T) {
	client, conn, _ := attestedPair(t)
	f, err := client.File()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", "printf b >&3")
	cmd.ExtraFiles = []*os.File{f}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	f.Close()
	read(t, conn, 1)
	for i := range 2 {
		_, err := conn.Identity()
		if err == nil || !strings.Contains(err.Error(), "written to by pid") {
			t.Fatalf("request %d after another process wrote: got %v, want a refusal naming the writer", i, err)
		}
	}
}

// writerPID reads the pid of a well-formed SCM_CREDENTIALS message, and
// nothing from a short one or a message of another kind.
func TestWriterPID(t *testing.T) {
	creds := unix.UnixCredentials(&unix.Ucred{Pid: 4242, Uid: 1, Gid: 2})
	if got := writerPID(creds); got != 4242 {
		t.Fatalf("credentials: got pid %d, want 4242", got)
	}
	rights := unix.UnixRights(7, 8, 9)
	for name, oob := range map[string][]byte{"none": nil, "short": creds[:unix.CmsgLen(0)+4], "SCM_RIGHTS": rights} {
		if got := writerPID(oob); got != 0 {
			t.Errorf("%s: got pid %d, want 0", name, got)
		}
	}
}

// Connections whose first requests come at once share holder scans: each
// waits for the first scan that starts after it arrived, so a burst of
// them costs a scan or two, not one each. Each is still attested as the
// process that connected.
func TestConnsShareAHolderScan(t *testing.T) {
	const n = 8
	conns := make([]*Conn, n)
	for i := range conns {
		client, c := connPair(t)
		if _, err := client.Write([]byte("a")); err != nil {
			t.Fatal(err)
		}
		read(t, c, 1)
		conns[i] = c
	}
	before := scansRun.Load()
	start := make(chan struct{})
	errs := make(chan error, n)
	for _, c := range conns {
		go func() {
			<-start
			id, err := c.Identity()
			if err == nil && id.PID != os.Getpid() {
				err = fmt.Errorf("attested as pid %d", id.PID)
			}
			errs <- err
		}()
	}
	close(start)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if scans := scansRun.Load() - before; scans >= n {
		t.Fatalf("%d connections attested at once made %d holder scans", n, scans)
	} else {
		t.Logf("%d connections attested at once: %d holder scans", n, scans)
	}
}
