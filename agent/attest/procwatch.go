package attest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A process that holds connections (a workload with a pool of them) is
// watched once for all of them: its /proc files are opened once, and a
// request is answered by the first check of the process that started
// after the request arrived, so concurrent requests share one check
// instead of each reading the same files. A check that started before a
// request arrived never answers it: what it saw may predate a change the
// request must see.

// exeName is "exe", NUL-terminated.
var exeName = [...]byte{'e', 'x', 'e', 0}

// tickets orders arrivals of requests and starts of checks.
var tickets atomic.Uint64

// checksRun counts the checks made (benchmarks report it per request).
var checksRun atomic.Uint64

// procWatch is one process, in the state it was attested in: an exec or
// a new process under its pid is another key, so another watch.
type procWatch struct {
	key   procState
	refs  int // attestations using it, under watches.mu
	pidfd int // -1: none (old kernel)
	// Its /proc files, kept open: a file of a process that has exited
	// reads as an error, whatever process has its pid now.
	statFD, statusFD, cgroupFD, dirFD int
	cgroup                            string // /proc/<pid>/cgroup as attested

	mu      sync.Mutex
	cond    sync.Cond
	running bool
	// last is the newest finished check: the ticket it started at, and
	// what it found (dead: something changed; the watch never recovers).
	last struct {
		started uint64
		why     Reason
		dead    bool
	}
	buf []byte // for the check in progress
	lay []byte
}

var watches = struct {
	mu sync.Mutex
	m  map[procState]*procWatch
}{m: map[procState]*procWatch{}}

// watchProcess returns the watch of pid, which must be in state st, with
// a reference the caller gives back with release. The state is read
// again from the watch's own files, so a process that changed between
// the caller's reading and the files' opening is an error.
func watchProcess(st procState) (*procWatch, error) {
	watches.mu.Lock()
	if w := watches.m[st]; w != nil {
		w.refs++
		watches.mu.Unlock()
		// It may be older than a change no request has checked yet (a
		// move to another cgroup, which the caller compares): checked
		// now, and replaced if it did change.
		if _, dead := w.check(tickets.Add(1)); !dead {
			return w, nil
		}
		w.release()
	} else {
		watches.mu.Unlock()
	}
	w, err := openWatch(st)
	if err != nil {
		return nil, err
	}
	watches.mu.Lock()
	defer watches.mu.Unlock()
	if other := watches.m[st]; other != nil {
		other.refs++
		w.closeFiles()
		return other, nil
	}
	w.refs = 1
	watches.m[st] = w
	return w, nil
}

func openWatch(st procState) (*procWatch, error) {
	w := &procWatch{key: st, pidfd: -1, statFD: -1, statusFD: -1, cgroupFD: -1, dirFD: -1, buf: make([]byte, 4096), lay: make([]byte, 0, 192)}
	w.cond.L = &w.mu
	changed := refuse("pid %d changed while it was being attested", st.pid)
	if fd, err := unix.PidfdOpen(st.pid, 0); err == nil {
		w.pidfd = fd
	} else if !errors.Is(err, unix.ENOSYS) {
		return nil, changed
	}
	var err error
	for _, f := range []struct {
		fd   *int
		name string
	}{{&w.statFD, "stat"}, {&w.statusFD, "status"}, {&w.cgroupFD, "cgroup"}, {&w.dirFD, ""}} {
		flags := unix.O_RDONLY | unix.O_CLOEXEC
		if f.name == "" {
			flags |= unix.O_DIRECTORY
		}
		if *f.fd, err = unix.Open(procPath(st.pid, f.name), flags, 0); err != nil {
			w.closeFiles()
			return nil, changed
		}
	}
	if !w.same() {
		w.closeFiles()
		return nil, changed
	}
	cg, err := w.pread(w.cgroupFD)
	if err != nil {
		w.closeFiles()
		return nil, changed
	}
	w.cgroup = strings.Clone(cg)
	return w, nil
}

func (w *procWatch) closeFiles() {
	for _, fd := range []*int{&w.pidfd, &w.statFD, &w.statusFD, &w.cgroupFD, &w.dirFD} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}

// release gives back a reference; the last one closes the files. No
// check runs then: checks are made for connections that hold a
// reference, one at a time per connection.
func (w *procWatch) release() {
	watches.mu.Lock()
	w.refs--
	last := w.refs == 0
	if last && watches.m[w.key] == w {
		delete(watches.m, w.key)
	}
	watches.mu.Unlock()
	if last {
		w.mu.Lock()
		w.closeFiles()
		w.mu.Unlock()
	}
}

// forget takes the watch out of the map: a later attestation of the
// process makes a new one.
func (w *procWatch) forget() {
	watches.mu.Lock()
	if watches.m[w.key] == w {
		delete(watches.m, w.key)
	}
	watches.mu.Unlock()
}

// check says whether the process changed since it was attested, from a
// check that started after arrived (a ticket).
func (w *procWatch) check(arrived uint64) (Reason, bool) {
	w.mu.Lock()
	for {
		switch {
		case w.last.dead:
			w.mu.Unlock()
			return w.last.why, true
		case w.last.started > arrived:
			w.mu.Unlock()
			return 0, false
		case !w.running:
			w.running = true
			started := tickets.Add(1)
			checksRun.Add(1)
			w.mu.Unlock()
			why, dead := w.checkNow()
			w.mu.Lock()
			w.running = false
			if started > w.last.started || dead {
				w.last.started, w.last.why, w.last.dead = started, why, w.last.dead || dead
			}
			w.cond.Broadcast()
			if dead {
				// A new attestation of the process gets a new watch.
				w.mu.Unlock()
				w.forget()
				w.mu.Lock()
			}
		default:
			w.cond.Wait()
		}
	}
}

// checkNow reads the process's files: the same start time, memory
// layout and executable, no tracer, the same cgroup. A process that has
// exited fails the first (its stat is unreadable once it is reaped, and
// a zombie has no memory layout or executable); the pidfd only tells
// which it was, for the count.
func (w *procWatch) checkNow() (Reason, bool) {
	if !w.same() {
		if w.pidfd >= 0 && unix.PidfdSendSignal(w.pidfd, 0, nil, 0) != nil {
			return ReasonExited, true
		}
		return ReasonHolder, true
	}
	status, err := w.pread(w.statusFD)
	if err != nil {
		return ReasonHolder, true
	}
	if tracer, err := tracerOf(status); err != nil || tracer != 0 {
		return ReasonTraced, true
	}
	if cg, err := w.pread(w.cgroupFD); err != nil || cg != w.cgroup {
		return ReasonCgroup, true
	}
	return 0, false
}

// same says whether the process is in the state it was attested in,
// from its open files: stat, and the executable through the /proc/<pid>
// directory (one lookup, not a walk from the root).
func (w *procWatch) same() bool {
	s, err := w.pread(w.statFD)
	if err != nil {
		return false
	}
	lay, err := appendLayout(w.lay[:0], s)
	if err != nil {
		return false
	}
	w.lay = lay
	var fi unix.Stat_t
	// fstatat(dirFD, "exe"), with the name kept as the kernel takes it:
	// unix.Fstatat would copy it at every request.
	if _, _, errno := unix.Syscall6(unix.SYS_NEWFSTATAT, uintptr(w.dirFD), uintptr(unsafe.Pointer(&exeName[0])), uintptr(unsafe.Pointer(&fi)), 0, 0, 0); errno != 0 {
		return false
	}
	return string(lay) == w.key.stat && uint64(fi.Dev) == w.key.dev && fi.Ino == w.key.ino
}

// pread reads a whole small /proc file from its open descriptor. The
// string shares w.buf (no copy on every request): it is only valid
// until the next read.
func (w *procWatch) pread(fd int) (string, error) {
	n, err := unix.Pread(fd, w.buf, 0)
	if err != nil {
		return "", err
	}
	if n == len(w.buf) {
		return "", fmt.Errorf("a /proc file larger than %d bytes", len(w.buf))
	}
	return unsafe.String(unsafe.SliceData(w.buf), n), nil
}
