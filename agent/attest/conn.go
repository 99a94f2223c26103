package attest

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"unsafe"

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
	pid := writerPID(oob)
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

// writerPID reads the pid of an SCM_CREDENTIALS message, the only one
// the control buffer has room for (0: none). It reads the bytes in
// place: x/sys/unix's parsers allocate, and this runs at every read.
func writerPID(oob []byte) int32 {
	hdr := unix.CmsgLen(0)
	if len(oob) < unix.CmsgLen(unix.SizeofUcred) {
		return 0
	}
	h := (*unix.Cmsghdr)(unsafe.Pointer(unsafe.SliceData(oob)))
	if h.Level != unix.SOL_SOCKET || h.Type != unix.SCM_CREDENTIALS || int(h.Len) != unix.CmsgLen(unix.SizeofUcred) {
		return 0
	}
	return (*unix.Ucred)(unsafe.Pointer(&oob[hdr])).Pid
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
type attested struct {
	id *Identity
	// scanned is the newest pid on the host (/proc/loadavg) when the
	// holders were last looked for, and epoch the tracker's then (see
	// newpids.go): a process created since has a newer pid, and only
	// those are looked at again.
	scanned int
	epoch   uint64
	probe   *prober
	// holders are the processes that hold the connection, the connecting
	// one first, each watched in the state it was attested in.
	holders []*procWatch
}

// procState is what of a process changes when it execs, or is replaced
// by another under its pid.
type procState struct {
	pid      int
	stat     string // start time and the memory layout set at exec (/proc/<pid>/stat)
	dev, ino uint64 // its executable
}

func (a *attested) close() {
	newPIDs.release()
	for _, w := range a.holders {
		w.release()
	}
	a.holders = nil
	if a.probe != nil {
		a.probe.close()
	}
}

// Identity is the caller on the other end of the connection, as of this
// request. The first request attests it in full (Peer); later ones check
// again only what can have changed since, and attest in full once more
// when something did:
//
//   - every process that holds the connection is alive and has the
//     same start time, memory layout (which exec replaces) and
//     executable file, no tracer, and the same cgroup, as seen by a check
//     that started after the request arrived (procwatch.go);
//   - none of the processes created on the host since the holders were
//     scanned holds the connection (a fork copies it; see newpids.go);
//   - and, at every request, only the connecting process has ever written
//     to the connection (SCM_CREDENTIALS): a connection passed to another
//     process (SCM_RIGHTS, pidfd_getfd) is refused as soon as that
//     process sends on it.
func (c *Conn) Identity() (*Identity, error) {
	arrived := tickets.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	why := ReasonFirst
	if c.att != nil {
		if r, changed := c.att.changed(arrived); changed {
			c.att.close()
			c.att = nil
			why = r
		}
	}
	if c.att == nil {
		fullCounts[why].Add(1)
		att, err := attestConn(c.UnixConn, c.accepted, arrived)
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
// against. The newest pid is read before the holder scan and the
// caller's state before the attestation, so a fork or exec during it
// shows as a change next time.
func attestConn(conn *net.UnixConn, accepted, arrived uint64) (*attested, error) {
	cred, _, err := PeerCred(conn)
	if err != nil {
		return nil, err
	}
	before, _ := readProcState(int(cred.Pid))
	id, hb, err := peer(conn, accepted, arrived)
	if err != nil {
		return nil, err
	}
	probe, err := newProber(hb.peerIno)
	if err != nil {
		return nil, refuse("cannot open /proc: %v", err)
	}
	a := &attested{id: id, scanned: hb.last, epoch: hb.epoch, probe: probe}
	newPIDs.hold() // until a.close
	held := hb.pids
	changed := refuse("pid %d changed while it was being attested", id.PID)
	// The connecting process first.
	for i, h := range held {
		if h == id.PID {
			held[0], held[i] = held[i], held[0]
		}
	}
	for _, h := range held {
		st, err := readProcState(h)
		if err != nil || (h == id.PID && st != before) {
			a.close()
			return nil, changed
		}
		w, err := watchProcess(st)
		if err != nil {
			a.close()
			return nil, err
		}
		a.holders = append(a.holders, w)
	}
	// A watch made earlier for another connection of the process was
	// checked against what was then its cgroup; this attestation's must
	// be the same, or the process moved, and it is attested again.
	if len(a.holders) == 0 || cgroupOf(a.holders[0].cgroup) != id.Cgroup {
		a.close()
		return nil, changed
	}
	return a, nil
}

// changed says whether something the attestation depends on may have
// changed since, and which (see Conn.Identity), from checks that started
// after the request arrived (a ticket).
func (a *attested) changed(arrived uint64) (Reason, bool) {
	if r, changed := a.newHolder(arrived); changed {
		return r, true
	}
	for _, w := range a.holders {
		if r, changed := w.check(arrived); changed {
			return r, true
		}
	}
	return 0, false
}

// newHolder says whether a process created since the holders were last
// looked for may hold the connection: one does (ReasonNewHolder), or the
// new ones cannot all be looked at (ReasonNewProcess: too many, or the
// pid tracker cannot vouch that it saw every one of them).
func (a *attested) newHolder(arrived uint64) (Reason, bool) {
	last, epoch, err := newPIDs.sample(arrived)
	switch {
	case err != nil || epoch != a.epoch:
		return ReasonPIDEpoch, true
	case last-a.scanned > maxProbe:
		return ReasonNewProcess, true
	case last == a.scanned:
		return 0, false
	}
	if err := a.probe.probe(a.scanned, last, a.holders); errors.Is(err, errNewHolder) {
		return ReasonNewHolder, true
	} else if err != nil {
		return ReasonNewProcess, true
	}
	a.scanned = last
	return 0, false
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
	var buf [192]byte
	lay, err := appendLayout(buf[:0], s)
	if err != nil {
		return procState{}, err
	}
	var fi syscall.Stat_t
	if err := syscall.Stat(procPath(pid, "exe"), &fi); err != nil {
		return procState{}, err
	}
	return procState{pid: pid, stat: string(lay), dev: uint64(fi.Dev), ino: fi.Ino}, nil
}

// appendLayout appends to dst the fields of the text of /proc/<pid>/stat
// that readProcState compares, without allocating. The command name
// (field 2) may hold spaces and parentheses; the fields after it start
// after the last ")".
func appendLayout(dst []byte, s string) ([]byte, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("malformed stat")
	}
	s = s[i+1:]
	field := 2
	for len(s) > 0 {
		for len(s) > 0 && s[0] == ' ' {
			s = s[1:]
		}
		end := strings.IndexAny(s, " \n")
		if end < 0 {
			end = len(s)
		}
		if end == 0 {
			break
		}
		field++
		if field == 22 || (field >= 26 && field <= 28) || (field >= 45 && field <= 51) {
			dst = append(append(dst, s[:end]...), ' ')
		}
		s = s[end:]
		if len(s) > 0 && s[0] == '\n' {
			break
		}
	}
	if field < 51 {
		return nil, fmt.Errorf("malformed stat")
	}
	return dst, nil
}
