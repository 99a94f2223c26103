package attest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Child is the identity a child the agent is about to start will attest
// to: the executable at path (symbolic links resolved, as /proc/<pid>/exe
// shows it), run as uid and gid, in cgroup (the agent's own, which a
// child inherits, when ""). The agent fetches a supervised child's
// secrets with it before the child exists, and checks with Process, once
// it runs, that the child is what it said.
func Child(path string, uid, gid uint32, cgroup string) (*Identity, error) {
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("the child's executable: %w", err)
	}
	if resolved, err = filepath.Abs(resolved); err != nil {
		return nil, err
	}
	f, err := os.Open(resolved)
	if err != nil {
		return nil, fmt.Errorf("the child's executable: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("the child's executable: %w", err)
	}
	id := &Identity{UID: uid, GID: gid, ExePath: resolved, ExeSHA256: hex.EncodeToString(h.Sum(nil))}
	id.Cgroup = cgroup
	if cgroup == "" {
		if id.Cgroup, err = cgroupPath(os.Getpid()); err != nil {
			return nil, fmt.Errorf("the agent's cgroup: %w", err)
		}
	}
	id.ContainerID, id.SystemdUnit = fromCgroup(id.Cgroup)
	names(id)
	return id, nil
}

// Process attests a process the agent started itself, by its pid: the
// same facts as Peer reads, without a connection to check. A traced
// process is refused; one the dynamic loader was told to put other code
// into is not vouched for as its executable.
func Process(pid int) (*Identity, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	switch {
	case err == nil:
		defer unix.Close(pidfd)
	case errors.Is(err, unix.ESRCH):
		return nil, refuse("pid %d has exited", pid)
	default:
		pidfd = -1
	}
	started, err := startTime(pid)
	if err != nil {
		return nil, refuse("cannot read pid %d: %v", pid, err)
	}
	status, err := readFile(procPath(pid, "status"))
	if err != nil {
		return nil, refuse("cannot read pid %d: %v", pid, err)
	}
	id := &Identity{PID: pid}
	uid, uerr := statusID(status, "Uid:")
	gid, gerr := statusID(status, "Gid:")
	if uerr != nil || gerr != nil {
		return nil, refuse("cannot read the credentials of pid %d", pid)
	}
	id.UID, id.GID = uid, gid
	if tracer, err := tracerOf(status); err != nil || tracer != 0 {
		return nil, refuse("pid %d is being traced, or its tracer cannot be read", pid)
	}
	path, facts, err := exe(pid)
	switch {
	case err != nil:
		id.Notes = append(id.Notes, "executable unreadable: "+errText(err))
	case facts.dynamic:
		vars, err := loaderOverrides(pid)
		if err != nil || len(vars) > 0 {
			id.Notes = append(id.Notes, "the executable is not vouched for: the dynamic loader may load other code")
			break
		}
		id.ExePath, id.ExeSHA256 = path, facts.sum
	default:
		id.ExePath, id.ExeSHA256 = path, facts.sum
	}
	if id.Cgroup, err = cgroupPath(pid); err != nil {
		id.Notes = append(id.Notes, "cgroup unreadable: "+errText(err))
	}
	id.ContainerID, id.SystemdUnit = fromCgroup(id.Cgroup)
	names(id)
	if pidfd >= 0 {
		if err := unix.PidfdSendSignal(pidfd, 0, nil, 0); err != nil {
			return nil, refuse("pid %d exited while it was being attested", pid)
		}
	}
	if again, err := startTime(pid); err != nil || again != started {
		return nil, refuse("pid %d changed while it was being attested", pid)
	}
	return id, nil
}

// statusID reads the real id of a "Uid:" or "Gid:" line of
// /proc/<pid>/status.
func statusID(status, field string) (uint32, error) {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				n, err := strconv.ParseUint(f[0], 10, 32)
				return uint32(n), err
			}
		}
	}
	return 0, fmt.Errorf("no %s in status", field)
}
