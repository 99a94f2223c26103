package attest

import (
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// BootTicks is now in clock ticks since boot, the unit of a process's
// start time in /proc (USER_HZ, 100 on Linux).
func BootTicks() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return ^uint64(0)
	}
	return uint64(ts.Sec)*100 + uint64(ts.Nsec)/10_000_000
}

// Peer attests the process on the other end of conn, which the agent
// accepted at acceptedTicks (BootTicks), in full. The agent calls it
// through Conn.Identity, at a connection's first request and whenever
// something it depends on may have changed since.
func Peer(conn *net.UnixConn, acceptedTicks uint64) (*Identity, error) {
	id, _, err := peer(conn, acceptedTicks, tickets.Add(1))
	return id, err
}

// heldBy is who holds a connection: every process, from a scan that
// started after the request arrived, with the newest pid and the pid
// tracker's epoch read before that scan; and the inode of the caller's
// end.
type heldBy struct {
	pids    []int
	last    int
	epoch   uint64
	peerIno uint64
}

// peer is Peer, also returning who holds the connection, from a holder
// scan that started after arrived (a ticket).
func peer(conn *net.UnixConn, acceptedTicks, arrived uint64) (*Identity, heldBy, error) {
	cred, label, err := PeerCred(conn)
	if err != nil {
		return nil, heldBy{}, err
	}
	if cred.Pid == 0 {
		return nil, heldBy{}, refuse("the caller is in a PID namespace the agent cannot see (pid 0): run the agent in the host's PID namespace")
	}
	pid := int(cred.Pid)
	id := &Identity{PID: pid, UID: cred.Uid, GID: cred.Gid, SELinux: label}

	// Pin the process: while the pidfd is open, "alive" means this very
	// process, whatever has happened to the pid number.
	pidfd, err := unix.PidfdOpen(pid, 0)
	switch {
	case err == nil:
		defer unix.Close(pidfd)
	case errors.Is(err, unix.ESRCH):
		return nil, heldBy{}, refuse("the caller (pid %d) has exited", pid)
	case errors.Is(err, unix.ENOSYS):
		pidfd = -1 // old kernel: the start-time and holder checks remain
	default:
		return nil, heldBy{}, refuse("cannot pin pid %d: %v", pid, err)
	}
	started, err := startTime(pid)
	if err != nil {
		return nil, heldBy{}, refuse("cannot read pid %d: %v", pid, err)
	}
	if started > acceptedTicks {
		return nil, heldBy{}, refuse("pid %d was reused: the process there now started after the connection was accepted", pid)
	}

	path, facts, exeErr := exe(pid)
	if exeErr != nil {
		id.Notes = append(id.Notes, "executable unreadable: "+errText(exeErr))
	}
	if id.Cgroup, err = cgroupPath(pid); err != nil {
		id.Notes = append(id.Notes, "cgroup unreadable: "+errText(err))
	}
	id.ContainerID, id.SystemdUnit = fromCgroup(id.Cgroup)
	names(id)

	held, err := checkHolders(conn, id, arrived)
	if err != nil {
		return nil, heldBy{}, err
	}
	// Every process that holds the connection can speak on it. A traced
	// one does whatever its tracer makes it do: it is nobody's workload.
	// One the dynamic loader put other code into is not only its
	// executable any more: roles bound to the executable do not match.
	var loaded []string
	for _, h := range held.pids {
		if tracer, err := tracerPID(h); err != nil {
			return nil, heldBy{}, refuse("cannot read the status of pid %d: %v", h, errText(err))
		} else if tracer != 0 {
			return nil, heldBy{}, refuse("pid %d is being traced (by pid %d): a traced process runs what its tracer makes it run", h, tracer)
		}
		if exeErr != nil || !facts.dynamic {
			continue
		}
		vars, err := loaderOverrides(h)
		if err != nil {
			vars = []string{"an unreadable environment (" + errText(err) + ")"}
		}
		for _, v := range vars {
			if !contains(loaded, v) {
				loaded = append(loaded, v)
			}
		}
	}
	switch {
	case exeErr != nil:
	case len(loaded) > 0:
		id.Notes = append(id.Notes, "the executable is not vouched for: "+strings.Join(loaded, ", ")+" is set in its environment")
	default:
		id.ExePath, id.ExeSHA256 = path, facts.sum
	}
	if pidfd >= 0 {
		if err := unix.PidfdSendSignal(pidfd, 0, nil, 0); err != nil {
			return nil, heldBy{}, refuse("the caller (pid %d) exited while it was being attested", pid)
		}
	}
	if again, err := startTime(pid); err != nil || again != started {
		return nil, heldBy{}, refuse("pid %d changed while it was being attested", pid)
	}
	id.key = id.makeKey()
	return id, held, nil
}

// checkHolders refuses a connection that the attested process does not
// hold, or that another process holds unless it runs the same executable
// as the same user. This closes connect-then-exec: a process that
// connects, passes the connection to a child (or keeps it across fork)
// and then execs a trusted binary is seen holding it together with the
// child, which runs something else; a caller that closes its own copy
// before the exec no longer holds it at all.
//
// It returns every process that holds the connection, the attested one
// included, from a scan shared with the requests that waited for it
// (holderscan.go).
func checkHolders(conn *net.UnixConn, id *Identity, arrived uint64) (heldBy, error) {
	local, err := localInode(conn)
	if err != nil {
		return heldBy{}, refuse("cannot identify the connection: %v", err)
	}
	peer, err := peerInode(local)
	if err != nil {
		return heldBy{}, refuse("cannot verify which processes hold the connection: %v", err)
	}
	sc := scanSince(arrived)
	if sc.err != nil {
		return heldBy{}, refuse("%v", sc.err)
	}
	pids := slices.Clone(sc.byIno[peer]) // the scan is shared: not to be changed
	found := false
	for _, h := range pids {
		if h == id.PID {
			found = true
		}
	}
	if !found {
		return heldBy{}, refuse("the process that connected (pid %d) no longer holds the connection (held by %s)", id.PID, pidList(pids))
	}
	dev, ino, err := exeIdentity(id.PID)
	if err != nil {
		return heldBy{}, refuse("cannot read the executable of pid %d: %v", id.PID, err)
	}
	uid := strconv.FormatUint(uint64(id.UID), 10)
	for _, h := range pids {
		if h == id.PID {
			continue
		}
		hdev, hino, err := exeIdentity(h)
		huid, uerr := procUID(h)
		if err != nil || uerr != nil || hdev != dev || hino != ino || huid != uid {
			return heldBy{}, refuse("the connection is shared with pid %d, which is not running the same executable as the same user as the process that connected (pid %d)", h, id.PID)
		}
	}
	return heldBy{pids: pids, last: sc.last, epoch: sc.epoch, peerIno: peer}, nil
}

func pidList(pids []int) string {
	if len(pids) == 0 {
		return "no process"
	}
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = "pid " + strconv.Itoa(p)
	}
	return strings.Join(s, ", ")
}

func errText(err error) string {
	var pe interface{ Unwrap() error }
	if errors.As(err, &pe) {
		if inner := pe.Unwrap(); inner != nil {
			return inner.Error()
		}
	}
	return err.Error()
}
