package agent

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The exec child runs in a cgroup of its own, below the agent's: a
// cgroup is the one part of a workload's identity that another process
// of the same user cannot take on (moving a process into a cgroup needs
// write access to it, and this one belongs to the agent's user), so a
// role can bind the supervised service alone (bound_cgroups). It also
// holds whatever the child starts, so stopping the child stops all of
// it: a daemon the child forked does not outlive a revocation.

// errNoCgroup2: the host has no cgroup v2 hierarchy the agent can use.
var errNoCgroup2 = errors.New("no cgroup v2 hierarchy is mounted")

// childCgroup is the exec child's cgroup.
type childCgroup struct {
	// path is the cgroup as the kernel names it (/proc/<pid>/cgroup),
	// what the child attests to.
	path string
	// dir is its directory in the mounted hierarchy.
	dir string
	// fd is dir, open: the child is created in it (clone3's
	// CLONE_INTO_CGROUP), never first in the agent's.
	fd int
}

// newChildCgroup makes a cgroup named name below the agent's own.
func newChildCgroup(name string) (*childCgroup, error) {
	mount, err := cgroup2Mount("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	parent, ok := unifiedCgroup(string(own))
	if !ok {
		return nil, fmt.Errorf("%w: the agent is in no cgroup v2", errNoCgroup2)
	}
	path := filepath.Join(parent, name)
	dir := filepath.Join(mount, path)
	// One left by an agent that had this pid and died without removing
	// it holds only what that agent's child left behind: it is emptied
	// and used again.
	stale := false
	if err := os.Mkdir(dir, 0o755); errors.Is(err, os.ErrExist) {
		stale = true
	} else if err != nil {
		return nil, fmt.Errorf("making the exec child's cgroup %s: %w", path, err)
	}
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		_ = os.Remove(dir)
		return nil, fmt.Errorf("opening the exec child's cgroup: %w", err)
	}
	c := &childCgroup{path: path, dir: dir, fd: fd}
	if stale {
		if err := c.killAll(); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("emptying the exec child's cgroup %s, left by an earlier agent: %w", path, err)
		}
	}
	return c, nil
}

// childCgroupName is the cgroup of this agent's child: one per agent
// process, so that agents sharing a cgroup never share a child's.
func childCgroupName() string { return "arca-exec-" + strconv.Itoa(os.Getpid()) }

// place makes a child started with attr begin life in the cgroup.
func (c *childCgroup) place(attr *syscall.SysProcAttr) {
	attr.UseCgroupFD, attr.CgroupFD = true, c.fd
}

// killAll kills every process left in the cgroup (what the child
// started and left behind) and waits until none is. The cgroup is frozen
// first, so that nothing in it forks between the list of its processes
// and their kill; frozen processes still die of SIGKILL once thawed.
// (cgroup.kill is not used: on the kernels tried, a cgroup once killed
// that way killed every process later started in it.)
func (c *childCgroup) killAll() error {
	freeze := filepath.Join(c.dir, "cgroup.freeze")
	if err := os.WriteFile(freeze, []byte("1"), 0); err != nil {
		return fmt.Errorf("freezing the exec child's cgroup: %w", err)
	}
	err := c.waitEvents("frozen 1")
	if err == nil {
		err = c.killEach()
	}
	if terr := os.WriteFile(freeze, []byte("0"), 0); terr != nil {
		return errors.Join(err, terr)
	}
	return errors.Join(err, c.waitEvents("populated 0"))
}

func (c *childCgroup) killEach() error {
	raw, err := os.ReadFile(filepath.Join(c.dir, "cgroup.procs"))
	if err != nil {
		return err
	}
	for _, f := range strings.Fields(string(raw)) {
		if pid, err := strconv.Atoi(f); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return nil
}

// waitEvents waits, on cgroup.events (which the kernel flags as modified
// when it changes), until it says want ("frozen 1", "populated 0"), for
// at most eventWait.
func (c *childCgroup) waitEvents(want string) error {
	in, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return err
	}
	defer unix.Close(in)
	events := filepath.Join(c.dir, "cgroup.events")
	if _, err := unix.InotifyAddWatch(in, events, unix.IN_MODIFY); err != nil {
		return err
	}
	deadline := time.Now().Add(eventWait)
	buf := make([]byte, 4096)
	for {
		raw, err := os.ReadFile(events)
		if err != nil {
			return err
		}
		if slices.Contains(strings.Split(string(raw), "\n"), want) {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("the exec child's cgroup %s is not %q after %s", c.path, want, eventWait)
		}
		fds := []unix.PollFd{{Fd: int32(in), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, int(left.Milliseconds())+1); err != nil && !errors.Is(err, unix.EINTR) {
			return err
		}
		_, _ = unix.Read(in, buf)
	}
}

// eventWait bounds how long freezing or emptying the cgroup may take.
const eventWait = 10 * time.Second

// remove kills what is left and removes the cgroup.
func (c *childCgroup) remove() error {
	err := c.killAll()
	unix.Close(c.fd)
	return errors.Join(err, os.Remove(c.dir))
}

// cgroup2Mount finds where the cgroup v2 hierarchy is mounted
// (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host).
func cgroup2Mount(mountinfo string) (string, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source super
		fields := strings.Fields(s.Text())
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) && fields[i+1] == "cgroup2" && len(fields) > 4 && fields[3] == "/" {
				return fields[4], nil
			}
		}
	}
	if err := s.Err(); err != nil {
		return "", err
	}
	return "", errNoCgroup2
}

// unifiedCgroup is the cgroup v2 path in the text of /proc/<pid>/cgroup.
func unifiedCgroup(s string) (string, bool) {
	for _, line := range strings.Split(s, "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok && strings.HasPrefix(rest, "/") {
			return rest, true
		}
	}
	return "", false
}
