package attest

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
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

// exeFacts is what is known about an executable file's content.
type exeFacts struct {
	sum string
	// dynamic: the ELF file names a program interpreter (the dynamic
	// loader), which obeys LD_PRELOAD and its kin.
	dynamic bool
}

var (
	hashMu    sync.Mutex
	hashCache = map[exeKey]exeFacts{}
)

// exe returns the executable's path, SHA-256 and whether it is
// dynamically linked, read through /proc/<pid>/exe (the file the process
// runs, even if it was replaced or deleted on disk since).
func exe(pid int) (path string, facts exeFacts, err error) {
	path, err = os.Readlink(procPath(pid, "exe"))
	if err != nil {
		return "", exeFacts{}, err
	}
	f, err := os.Open(procPath(pid, "exe"))
	if err != nil {
		return "", exeFacts{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", exeFacts{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", exeFacts{}, fmt.Errorf("no stat")
	}
	key := exeKey{uint64(st.Dev), st.Ino, st.Size, st.Mtim.Nano(), st.Ctim.Nano()}
	hashMu.Lock()
	facts, ok = hashCache[key]
	hashMu.Unlock()
	if ok {
		return path, facts, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", exeFacts{}, err
	}
	facts = exeFacts{sum: hex.EncodeToString(h.Sum(nil)), dynamic: hasInterpreter(f)}
	hashMu.Lock()
	if len(hashCache) > 4096 {
		clear(hashCache)
	}
	hashCache[key] = facts
	hashMu.Unlock()
	return path, facts, nil
}

// hasInterpreter says whether f is an ELF file with a PT_INTERP program
// header. A file that cannot be read as ELF counts as dynamic: the
// loader checks then apply, which only ever withhold.
func hasInterpreter(f io.ReaderAt) bool {
	e, err := elf.NewFile(f)
	if err != nil {
		return true
	}
	defer e.Close()
	for _, p := range e.Progs {
		if p.Type == elf.PT_INTERP {
			return true
		}
	}
	return false
}

// loaderVars are the dynamic loader's variables that put other code into
// a dynamically linked process (glibc and musl read them at exec).
var loaderVars = []string{"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT"}

// loaderOverrides lists the loaderVars set (non-empty) in the environment
// the process was started with.
func loaderOverrides(pid int) ([]string, error) {
	raw, err := readFile(procPath(pid, "environ"))
	if err != nil {
		return nil, err
	}
	var set []string
	for _, kv := range strings.Split(raw, "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		if v != "" && contains(loaderVars, k) && !contains(set, k) {
			set = append(set, k)
		}
	}
	return set, nil
}

// tracerPID is the pid of the process tracing pid (0: none), from
// /proc/<pid>/status.
func tracerPID(pid int) (int, error) {
	s, err := readFile(procPath(pid, "status"))
	if err != nil {
		return 0, err
	}
	return tracerOf(s)
}

// tracerOf reads TracerPid from the text of /proc/<pid>/status.
func tracerOf(s string) (int, error) { return statusField(s, "TracerPid:") }

// statusField reads a number field (name with its colon) from the text
// of /proc/<pid>/status, without allocating.
func statusField(s, name string) (int, error) {
	for len(s) > 0 {
		line := s
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if rest, ok := strings.CutPrefix(line, name); ok {
			return strconv.Atoi(strings.TrimSpace(rest))
		}
	}
	return 0, fmt.Errorf("no %s in status", name)
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
	return cgroupOf(s), nil
}

// cgroupOf is cgroupPath from the text of /proc/<pid>/cgroup.
func cgroupOf(s string) string {
	var v1 string
	for _, line := range strings.Split(s, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			return parts[2]
		}
		if parts[1] == "name=systemd" {
			v1 = parts[2]
		}
	}
	return v1
}
