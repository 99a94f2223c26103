package secmem

import (
	"os"
	"strings"
	"syscall"
)

// Go's garbage collector frees memory without clearing it: a decoded
// request body, an answer's JSON, a token string or a dropped AES key
// schedule stays in the heap until its slot happens to be reused, where a
// core dump finds it. The runtime's clobberfree debug setting makes the
// collector overwrite every object it frees. It is read from GODEBUG when
// the process starts and cannot be set from code (//go:debug does not
// know it), so the server and the agent re-execute themselves with it.

// clobberSetting is the GODEBUG setting that has the collector overwrite
// what it frees.
const clobberSetting = "clobberfree=1"

// ClobberFreed reports whether this process's collector overwrites the
// memory it frees.
func ClobberFreed() bool {
	for _, s := range strings.Split(os.Getenv("GODEBUG"), ",") {
		if s == clobberSetting {
			return true
		}
	}
	return false
}

// ReexecClobbering replaces the process (same pid, same arguments) with
// itself under GODEBUG=clobberfree=1, unless it already runs so. It
// returns only on failure; the caller then goes on, and warns.
func ReexecClobbering() error {
	if ClobberFreed() {
		return nil
	}
	godebug := clobberSetting
	if old := os.Getenv("GODEBUG"); old != "" {
		godebug = old + "," + clobberSetting
	}
	env := append([]string{"GODEBUG=" + godebug}, withoutGODEBUG(os.Environ())...)
	// The executable by its path, not /proc/self/exe, so that the process
	// keeps its name (ps, pgrep, systemd show "arca", not "exe").
	exe, err := os.Executable()
	if err != nil {
		exe = "/proc/self/exe"
	}
	return syscall.Exec(exe, os.Args, env)
}

func withoutGODEBUG(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			out = append(out, kv)
		}
	}
	return out
}
