package attest

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Listener accepts connections whose callers are attested once and then
// re-checked cheaply (Conn). It asks the kernel to attach the writer's
// credentials to every byte written to its connections (SO_PASSCRED),
// so that the agent knows which process wrote each request.
type Listener struct {
	*net.UnixListener
}

// NewListener turns on SO_PASSCRED on l: connections accepted from it
// inherit it, and bytes written before the accept carry their writer too.
func NewListener(l *net.UnixListener) (*Listener, error) {
	raw, err := l.SyscallConn()
	if err != nil {
		return nil, err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, fmt.Errorf("SO_PASSCRED: %w", serr)
	}
	return &Listener{l}, nil
}

// Accept returns the next connection, as a *Conn.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.AcceptUnix()
	if err != nil {
		return nil, err
	}
	return &Conn{UnixConn: c, accepted: BootTicks(), oob: make([]byte, unix.CmsgSpace(unix.SizeofUcred))}, nil
}

// maxWriters bounds the distinct writers a connection remembers; more is
// a refusal in itself.
const maxWriters = 4

// Conn is a connection on the agent's socket. Its caller is attested in
// full at the first request (Peer), and at each later one only what can
// have changed is checked again (see Identity).
type Conn struct {
	*net.UnixConn
	accepted uint64
	oob      []byte // one SCM_CREDENTIALS message, and no room for descriptors

	wmu sync.Mutex
	// writers are the processes (pids) that wrote to the connection,
	// from the kernel's SCM_CREDENTIALS; anonymous: bytes came without.
	writers   []int32
	anonymous bool

	mu  sync.Mutex
	att *attested
}

// Read reads like the connection's Read, and notes which process wrote
// what it read. The kernel never returns two writers' bytes in one read.
// The control buffer has room for the credentials only: a descriptor the
// caller sends along is closed by the kernel, never received.
func (c *Conn) Read(b []byte) (int, error) {
	n, oobn, _, _, err := c.ReadMsgUnix(b, c.oob)
	if n > 0 {
		c.noteWriter(c.oob[:oobn])
	}
	// recvmsg's -1 on an error (a reset connection) reaches us as is;
	// io.Reader's callers (bufio) panic on a negative count.
	return max(n, 0), err
}

func (c *Conn) noteWriter(oob []byte) {
	pid := int32(0)
	if msgs, err := unix.ParseSocketControlMessage(oob); err == nil {
		for i := range msgs {
			if cred, err := unix.ParseUnixCredentials(&msgs[i]); err == nil {
				pid = cred.Pid
			}
		}
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if pid <= 0 {
		c.anonymous = true
		return
	}
	for _, w := range c.writers {
		if w == pid {
			return
		}
	}
	if len(c.writers) < maxWriters {
		c.writers = append(c.writers, pid)
	} else {
		c.anonymous = true
	}
}

// checkWriters refuses when any process but pid has ever written to the
// connection. It is sticky: bytes read ahead of one request are checked
// at every later one too.
func (c *Conn) checkWriters(pid int) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.anonymous {
		return refuse("bytes on the connection came without their writer's credentials, or from too many processes")
	}
	for _, w := range c.writers {
		if int(w) != pid {
			return refuse("the connection was written to by pid %d, not by the process that connected (pid %d): a connection is not handed on", w, pid)
		}
	}
	return nil
}

// Close closes the connection and the caller's pidfd.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.att != nil {
		c.att.close()
		c.att = nil
	}
	c.mu.Unlock()
	return c.UnixConn.Close()
}

// attested is what the full attestation saw, kept to compare against.
// Its /proc files stay open and are read again with pread: one system
// call each, and a file of a process that has exited reads as an error,
// whatever process has its pid now.
type attested struct {
	id    *Identity
	pidfd int // -1: none (old kernel)
	// lastPID is the newest pid on the host (/proc/loadavg) when the
	// holders were scanned: while it is the same, no process has been
	// created since, so no fork can have copied the connection.
	lastPID string
	holders []watched
	cgroup  string
	cgFD    int // the connecting process's /proc/<pid>/cgroup
	buf     []byte
}

// watched is a process that holds the connection, with its /proc files
// open.
type watched struct {
	state          procState
	statFD, status int
}

// procState is what of a process changes when it execs, or is replaced
// by another under its pid.
type procState struct {
	pid      int
	stat     string // start time and the memory layout set at exec (/proc/<pid>/stat)
	dev, ino uint64 // its executable
}

func (a *attested) close() {
	for _, fd := range []*int{&a.pidfd, &a.cgFD} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
	for i := range a.holders {
		unix.Close(a.holders[i].statFD)
		unix.Close(a.holders[i].status)
	}
	a.holders = nil
}

// Identity is the caller on the other end of the connection, as of this
// request. The first request attests it in full (Peer); later ones check
// again only what can have changed since, and attest in full once more
// when something did:
//
//   - the connecting process is still alive (its pidfd), and every
//     process that holds the connection has the same start time, memory
//     layout (which exec replaces) and executable file, no tracer, and
//     the connecting one the same cgroup;
//   - no process was created on the host since the holders were scanned
//     (the newest pid is the same), so no fork has copied the connection;
//   - and, at every request, only the connecting process has ever written
//     to the connection (SCM_CREDENTIALS): a connection passed to another
//     process (SCM_RIGHTS, pidfd_getfd) is refused as soon as that
//     process sends on it.
func (c *Conn) Identity() (*Identity, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.att != nil && !c.att.unchanged() {
		c.att.close()
		c.att = nil
	}
	if c.att == nil {
		att, err := attestConn(c.UnixConn, c.accepted)
		if err != nil {
			return nil, err
		}
		c.att = att
	}
	if err := c.checkWriters(c.att.id.PID); err != nil {
		return nil, err
	}
	return c.att.id, nil
}

// attestConn attests the caller in full and keeps what to compare
// against. The newest pid and the caller's state are read before, so a
// fork or exec during the attestation shows as a change next time.
func attestConn(conn *net.UnixConn, accepted uint64) (*attested, error) {
	last, err := newestPID()
	if err != nil {
		return nil, refuse("cannot read /proc/loadavg: %v", err)
	}
	cred, _, err := PeerCred(conn)
	if err != nil {
		return nil, err
	}
	before, _ := readProcState(int(cred.Pid))
	id, held, err := peer(conn, accepted)
	if err != nil {
		return nil, err
	}
	a := &attested{id: id, pidfd: -1, cgFD: -1, lastPID: last, buf: make([]byte, 4096)}
	if fd, err := unix.PidfdOpen(id.PID, 0); err == nil {
		a.pidfd = fd
	} else if !errors.Is(err, unix.ENOSYS) {
		return nil, refuse("the caller (pid %d) exited while it was being attested", id.PID)
	}
	changed := refuse("pid %d changed while it was being attested", id.PID)
	for _, h := range held {
		w := watched{statFD: -1, status: -1}
		w.statFD, err = unix.Open(procPath(h, "stat"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			w.status, err = unix.Open(procPath(h, "status"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				unix.Close(w.statFD)
			}
		}
		if err != nil {
			a.close()
			return nil, changed
		}
		a.holders = append(a.holders, w)
		if w.state, err = a.readState(h, w.statFD); err != nil || (h == id.PID && w.state != before) {
			a.close()
			return nil, changed
		}
		a.holders[len(a.holders)-1] = w
	}
	if a.cgFD, err = unix.Open(procPath(id.PID, "cgroup"), unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		a.close()
		return nil, changed
	}
	if cg, err := a.pread(a.cgFD); err != nil || cgroupOf(cg) != id.Cgroup {
		a.close()
		return nil, changed
	} else {
		a.cgroup = cg
	}
	return a, nil
}

// unchanged says whether nothing the attestation depends on can have
// changed since (see Conn.Identity).
func (a *attested) unchanged() bool {
	if a.pidfd >= 0 && unix.PidfdSendSignal(a.pidfd, 0, nil, 0) != nil {
		return false
	}
	if last, err := newestPID(); err != nil || last != a.lastPID {
		return false
	}
	for _, h := range a.holders {
		st, err := a.readState(h.state.pid, h.statFD)
		if err != nil || st != h.state {
			return false
		}
		status, err := a.pread(h.status)
		if err != nil {
			return false
		}
		if tracer, err := tracerOf(status); err != nil || tracer != 0 {
			return false
		}
	}
	cg, err := a.pread(a.cgFD)
	return err == nil && cg == a.cgroup
}

// pread reads a whole small /proc file from its open descriptor.
func (a *attested) pread(fd int) (string, error) {
	n, err := unix.Pread(fd, a.buf, 0)
	if err != nil {
		return "", err
	}
	if n == len(a.buf) {
		return "", fmt.Errorf("a /proc file larger than %d bytes", len(a.buf))
	}
	return string(a.buf[:n]), nil
}

// readState is readProcState from an open /proc/<pid>/stat.
func (a *attested) readState(pid, statFD int) (procState, error) {
	s, err := a.pread(statFD)
	if err != nil {
		return procState{}, err
	}
	return procStateOf(pid, s)
}

// readProcState reads what identifies pid's current program: its start
// time and the addresses the kernel laid out at exec (start and end of
// code, stack, data, heap, arguments and environment: fields 22, 26–28
// and 45–51 of /proc/<pid>/stat, readable by root), and its executable
// file.
func readProcState(pid int) (procState, error) {
	s, err := readFile(procPath(pid, "stat"))
	if err != nil {
		return procState{}, err
	}
	return procStateOf(pid, s)
}

func procStateOf(pid int, s string) (procState, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procState{}, fmt.Errorf("malformed stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 49 {
		return procState{}, fmt.Errorf("malformed stat")
	}
	st := procState{pid: pid, stat: strings.Join([]string{f[19], f[23], f[24], f[25], f[42], f[43], f[44], f[45], f[46], f[47], f[48]}, " ")}
	var fi syscall.Stat_t
	if err := syscall.Stat(procPath(pid, "exe"), &fi); err != nil {
		return procState{}, err
	}
	st.dev, st.ino = uint64(fi.Dev), fi.Ino
	return st, nil
}

var loadavg struct {
	once sync.Once
	fd   int
	err  error
}

// newestPID is the pid most recently given to a new process on the host
// (the last field of /proc/loadavg).
func newestPID() (string, error) {
	loadavg.once.Do(func() {
		loadavg.fd, loadavg.err = unix.Open("/proc/loadavg", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	})
	if loadavg.err != nil {
		return "", loadavg.err
	}
	var b [128]byte
	n, err := unix.Pread(loadavg.fd, b[:], 0)
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(b[:n]))
	if len(f) < 5 {
		return "", fmt.Errorf("malformed /proc/loadavg")
	}
	if _, err := strconv.Atoi(f[4]); err != nil {
		return "", fmt.Errorf("malformed /proc/loadavg")
	}
	return f[4], nil
}
