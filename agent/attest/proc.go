package attest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// startTime is the process's start, in clock ticks since boot (field 22
// of /proc/<pid>/stat).
func startTime(pid int) (uint64, error) {
	s, err := readFile(procPath(pid, "stat"))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses; the
	// fields after it start after the last ")".
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("malformed stat")
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// exeKey identifies an executable file's content version for the hash
// cache.
type exeKey struct {
	dev, ino    uint64
	size        int64
	mtime, ctim int64
}

var (
	hashMu    sync.Mutex
	hashCache = map[exeKey]string{}
)

// exe returns the executable's path and SHA-256, read through
// /proc/<pid>/exe (the file the process runs, even if it was replaced or
// deleted on disk since).
func exe(pid int) (path, sum string, err error) {
	path, err = os.Readlink(procPath(pid, "exe"))
	if err != nil {
		return "", "", err
	}
	f, err := os.Open(procPath(pid, "exe"))
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", "", fmt.Errorf("no stat")
	}
	key := exeKey{uint64(st.Dev), st.Ino, st.Size, st.Mtim.Nano(), st.Ctim.Nano()}
	hashMu.Lock()
	sum, ok = hashCache[key]
	hashMu.Unlock()
	if ok {
		return path, sum, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", "", err
	}
	sum = hex.EncodeToString(h.Sum(nil))
	hashMu.Lock()
	if len(hashCache) > 4096 {
		clear(hashCache)
	}
	hashCache[key] = sum
	hashMu.Unlock()
	return path, sum, nil
}

// exeIdentity is the executable's device and inode, to compare two
// processes' executables without hashing.
func exeIdentity(pid int) (uint64, uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(procPath(pid, "exe"), &st); err != nil {
		return 0, 0, err
	}
	return uint64(st.Dev), st.Ino, nil
}

// cgroupPath reads the unified cgroup (the "0::" line), or else the v1
// systemd hierarchy's.
func cgroupPath(pid int) (string, error) {
	s, err := readFile(procPath(pid, "cgroup"))
	if err != nil {
		return "", err
	}
	var v1 string
	for _, line := range strings.Split(s, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			return parts[2], nil
		}
		if parts[1] == "name=systemd" {
			v1 = parts[2]
		}
	}
	return v1, nil
}

var containerIDPattern = regexp.MustCompile(`(?:^|[/-])([0-9a-f]{64})(?:\.scope)?$`)

// containerID finds a container id in a cgroup path: Docker
// (/docker/<id>, docker-<id>.scope), containerd (cri-containerd-<id>.scope),
// CRI-O (crio-<id>.scope) and Kubernetes (/kubepods/.../<id>) all end
// the path with the 64-hex id.
func containerID(cgroup string) string {
	for p := cgroup; p != "" && p != "/"; p = p[:strings.LastIndexByte(p, '/')] {
		if m := containerIDPattern.FindStringSubmatch(p); m != nil {
			return m[1]
		}
		if !strings.Contains(p, "/") {
			break
		}
	}
	return ""
}

// systemdUnit is the innermost .service or .scope in the cgroup path.
func systemdUnit(cgroup string) string {
	segs := strings.Split(cgroup, "/")
	for i := len(segs) - 1; i >= 0; i-- {
		if strings.HasSuffix(segs[i], ".service") || strings.HasSuffix(segs[i], ".scope") {
			return segs[i]
		}
	}
	return ""
}
