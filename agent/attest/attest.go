// Package attest tells the agent who is on the other end of a UNIX socket
// connection, from the kernel and nothing the caller says: SO_PEERCRED's
// pid, uid and gid, then from /proc/<pid> the executable (path and
// SHA-256), the cgroup (and from it a container id or a systemd unit), and
// SO_PEERSEC's SELinux label.
//
// Between the kernel's answer and the /proc reads, the caller may have
// died and its pid been reused, or handed its connection to another
// process. Peer closes both: it pins the process with a pidfd, checks that
// the process started before the connection was accepted and is still the
// same process after the reads, and checks, through sock_diag and
// /proc/*/fd, that every process holding the connection is the attested
// one or runs the same executable as the same user. When it cannot be
// sure, it refuses.
//
// Conn (conn.go) attests a connection's caller with Peer once, and at
// each later request re-checks only what can have changed, with the
// holders' /proc files kept open and shared by the connections of one
// process (procwatch.go), and only the processes created since the
// holder scan looked at (newpids.go); the kernel names each request's
// writer (SO_PASSCRED), so a connection handed to another process is
// refused.
//
// What the kernel says is not all a selector needs: a traced process is
// refused (its tracer decides what it does), a dynamically linked
// executable started with LD_PRELOAD, LD_LIBRARY_PATH or LD_AUDIT is not
// vouched for as that executable, and units and container ids are read
// only from the layouts systemd and the runtimes create (cgroup.go).
package attest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Identity is what the kernel says about a caller.
type Identity struct {
	PID         int
	UID, GID    uint32
	User, Group string
	// ExePath is the executable's path ("" when it could not be read:
	// roles bound to an executable then do not match).
	ExePath, ExeSHA256 string
	// Cgroup is the unified (v2) cgroup path, or the v1 systemd one.
	Cgroup string
	// ContainerID is the 64-hex id of a Docker, containerd, CRI-O or
	// Kubernetes container, read from the runtime's own cgroup layout
	// ("" when none; see fromCgroup).
	ContainerID string
	// SystemdUnit is the system unit (service or scope) the process runs
	// in: the first unit below systemd's slices, never one in a user's
	// delegated subtree ("" in a container, or when none).
	SystemdUnit string
	// SELinux is the peer's security label ("" without SELinux).
	SELinux string
	// Notes say what could not be read and why (for refusals).
	Notes []string
	// key is Key, worked out once (a connection's every request uses it).
	key string
}

// ErrRefused marks a caller the agent will not vouch for; the message
// says why.
var ErrRefused = errors.New("refused")

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

// Selectors are the identity as the workload auth method takes it.
func (id *Identity) Selectors() map[string]any {
	m := map[string]any{
		"pid": strconv.Itoa(id.PID), "uid": strconv.FormatUint(uint64(id.UID), 10), "gid": strconv.FormatUint(uint64(id.GID), 10),
	}
	for k, v := range map[string]string{"user": id.User, "group": id.Group, "exe_path": id.ExePath, "exe_sha256": id.ExeSHA256,
		"cgroup": id.Cgroup, "container_id": id.ContainerID, "systemd_unit": id.SystemdUnit, "selinux_label": id.SELinux} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

// Key identifies the identity for caching a token: every selector but
// the pid, which is not bound.
func (id *Identity) Key() string {
	if id.key != "" {
		return id.key
	}
	return id.makeKey()
}

func (id *Identity) makeKey() string {
	return strings.Join([]string{strconv.FormatUint(uint64(id.UID), 10), strconv.FormatUint(uint64(id.GID), 10), id.ExePath, id.ExeSHA256, id.Cgroup, id.ContainerID, id.SystemdUnit, id.SELinux}, "\x00")
}

// String is a short description for logs and refusals.
func (id *Identity) String() string {
	s := fmt.Sprintf("pid=%d uid=%d gid=%d exe=%s cgroup=%s", id.PID, id.UID, id.GID, id.ExePath, id.Cgroup)
	if id.ContainerID != "" {
		s += " container=" + id.ContainerID[:12]
	}
	if id.SystemdUnit != "" {
		s += " unit=" + id.SystemdUnit
	}
	return s
}

// PeerCred reads the connection's kernel credentials and SELinux label.
func PeerCred(conn *net.UnixConn) (cred *unix.Ucred, label string, err error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, "", err
	}
	var serr error
	cerr := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if serr != nil {
			return
		}
		if l, err := unix.GetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_PEERSEC); err == nil {
			label = strings.TrimRight(l, "\x00")
		}
	})
	if cerr != nil {
		return nil, "", cerr
	}
	if serr != nil {
		return nil, "", fmt.Errorf("SO_PEERCRED: %w", serr)
	}
	return cred, label, nil
}

func names(id *Identity) {
	if u, err := user.LookupId(strconv.FormatUint(uint64(id.UID), 10)); err == nil {
		id.User = u.Username
	}
	if g, err := user.LookupGroupId(strconv.FormatUint(uint64(id.GID), 10)); err == nil {
		id.Group = g.Name
	}
}

func procPath(pid int, rest string) string { return "/proc/" + strconv.Itoa(pid) + "/" + rest }

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
