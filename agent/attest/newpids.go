package attest

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// A process that holds a connection can hand it to a new process only
// by creating it (fork, clone): a process that existed at the holder
// scan and did not hold the connection then can only be handed it
// (SCM_RIGHTS, pidfd_getfd), and the writer check (SO_PASSCRED) refuses
// it as soon as it writes. So a re-check need not scan every process
// again when one was created somewhere on the host: it looks at the new
// ones only.
//
// The kernel hands out pids in increasing order from a cursor, wrapping
// to the bottom at pid_max; /proc/loadavg's last field is the newest.
// Between two readings n0 and n1 the new tasks (threads too) are exactly
// the pids n0+1 … n1, unless the cursor went all the way round in
// between. That cannot be seen from the readings, so the tracker relies
// on time: readings closer than window apart follow each other without
// a full turn; a longer gap, or a reading below the previous one (a
// wrap), starts a new epoch, and a connection scanned in an earlier
// epoch is scanned in full again. The window assumes the kernel hands
// out at most one pid per 250 ns (it allocates them under one lock) and
// one per 2 µs per CPU (the least a clone costs before it gets its pid).
// Readings are taken at every request on every connection, and by a
// goroutine every quarter window while an attested connection is open,
// so gaps come only from the agent not being scheduled at all. With no
// connection open the goroutine stops (on a host whose pid_max is 32768
// it would wake every 8 ms for nothing): the next connection is attested
// in full anyway.

// pidTracker follows the kernel's newest pid.
type pidTracker struct {
	mu     sync.Mutex
	fd     int // /proc/loadavg
	err    error
	window time.Duration
	last   int
	at     time.Time // before the last reading
	ticket uint64    // taken before the last reading
	epoch  uint64
	// holders counts the attestations that compare against the epochs
	// (hold, release); keepUp runs while there is one, until stop closes.
	holders int
	stop    chan struct{}
}

// The least time the kernel is assumed to take per pid: host-wide, and
// on one CPU.
const (
	hostPerPID = 250 * time.Nanosecond
	cpuPerPID  = 2 * time.Microsecond
)

// newPIDs is the agent's one tracker: the readings of every connection
// chain together.
var newPIDs = newPIDTracker()

func newPIDTracker() *pidTracker {
	t := &pidTracker{fd: -1}
	t.fd, t.err = unix.Open("/proc/loadavg", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	pidMax := 4194304 // the largest pid_max Linux allows
	if s, err := readFile("/proc/sys/kernel/pid_max"); err == nil {
		if n, err := strconv.Atoi(trimNewline(s)); err == nil && n > 0 {
			pidMax = n
		}
	}
	t.window = max(time.Duration(pidMax)*hostPerPID, time.Duration(pidMax)*cpuPerPID/time.Duration(runtime.NumCPU()))
	return t
}

// hold says that an attestation compares against the tracker's epochs:
// until it lets go (release), keepUp keeps the readings chained.
func (t *pidTracker) hold() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.holders++
	if t.stop == nil && t.err == nil {
		t.stop = make(chan struct{})
		go t.keepUp(t.stop)
	}
}

func (t *pidTracker) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.holders--
	if t.holders == 0 && t.stop != nil {
		close(t.stop)
		t.stop = nil
	}
}

// keepUp reads the newest pid every quarter window, so that readings
// chain while no request comes, until stop closes.
func (t *pidTracker) keepUp(stop chan struct{}) {
	for {
		t.mu.Lock()
		w := t.window
		t.mu.Unlock()
		timer := time.NewTimer(max(w/4, time.Millisecond))
		select {
		case <-stop:
			timer.Stop()
			return
		case <-timer.C:
		}
		_, _, _ = t.sample(tickets.Add(1))
	}
}

// setWindow changes the window (tests), returning the one before.
func (t *pidTracker) setWindow(w time.Duration) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.window
	t.window = w
	return old
}

func trimNewline(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	return s
}

// sample reads the newest pid, or returns a reading that started after
// arrived (a ticket: see procwatch.go), which concurrent requests share.
// While two samples have the same epoch, every task created between
// them has a pid in (first, second].
func (t *pidTracker) sample(arrived uint64) (pid int, epoch uint64, err error) {
	if t.err != nil {
		return 0, 0, t.err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ticket > arrived {
		return t.last, t.epoch, nil
	}
	t.ticket = tickets.Add(1)
	before := time.Now()
	pid, err = newestPID(t.fd)
	if err != nil {
		t.epoch++
		t.ticket = 0
		return 0, 0, err
	}
	if pid < t.last || time.Since(t.at) > t.window {
		t.epoch++
	}
	t.last, t.at = pid, before
	return pid, t.epoch, nil
}

// newestPID reads the last field of /proc/loadavg without allocating.
func newestPID(fd int) (int, error) {
	var b [128]byte
	n, err := unix.Pread(fd, b[:], 0)
	if err != nil {
		return 0, err
	}
	end := n
	for end > 0 && (b[end-1] == '\n' || b[end-1] == ' ') {
		end--
	}
	start := end
	for start > 0 && b[start-1] >= '0' && b[start-1] <= '9' {
		start--
	}
	if start == end || start == 0 || b[start-1] != ' ' || end-start > 9 {
		return 0, fmt.Errorf("malformed /proc/loadavg")
	}
	pid := 0
	for _, c := range b[start:end] {
		pid = pid*10 + int(c-'0')
	}
	return pid, nil
}

// maxProbe bounds the new pids a re-check looks at one by one; past
// it, the full scan (every process) costs about as much.
const maxProbe = 512

// prober looks at the descriptors of new pids for one connection's
// socket, with its buffers kept between requests.
type prober struct {
	procFD int
	target []byte // "socket:[<peer inode>]"
	link   []byte
	buf    []byte
	name   []byte
}

func newProber(peerIno uint64) (*prober, error) {
	fd, err := unix.Open("/proc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	target := []byte("socket:[" + strconv.FormatUint(peerIno, 10) + "]")
	return &prober{procFD: fd, target: target, link: make([]byte, len(target)+1), buf: make([]byte, 8<<10), name: make([]byte, 0, 16)}, nil
}

func (p *prober) close() {
	if p.procFD >= 0 {
		unix.Close(p.procFD)
		p.procFD = -1
	}
}

// errNewHolder: a process created since the scan holds the connection.
var errNewHolder = errors.New("a new process holds the connection")

// probe looks at the pids in (from, to]: nil when none of them holds the
// connection (a pid that is gone holds nothing), errNewHolder when one
// does, another error when one could not be read. The pids are those of
// threads too (/proc/<tid> is there to be looked up, though not listed):
// a new thread of a process in known, the processes that hold the
// connection, is that process, which is watched already.
func (p *prober) probe(from, to int, known []*procWatch) error {
	for pid := from + 1; pid <= to; pid++ {
		p.name = strconv.AppendInt(p.name[:0], int64(pid), 10)
		holds, err := holdsSocket(p.procFD, p.name, p.buf, p.link, p.target)
		switch {
		case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH):
		case err != nil:
			return err
		case holds:
			if !threadOf(pid, known) {
				return errNewHolder
			}
		}
	}
	return nil
}

// threadOf says whether tid is a thread (not the leader) of one of the
// processes in known.
func threadOf(tid int, known []*procWatch) bool {
	s, err := readFile(procPath(tid, "status"))
	if err != nil {
		return false
	}
	tgid, err := statusField(s, "Tgid:")
	if err != nil || tgid == tid {
		return false
	}
	for _, w := range known {
		if w.key.pid == tgid {
			return true
		}
	}
	return false
}
