// Package secmem keeps key material in memory that is locked in RAM (never
// swapped), excluded from core dumps, fenced by guard pages, and wiped when
// freed; and it hardens the process (not dumpable, no core files).
//
// It locks only the pages that hold keys, never the whole process
// (mlockall), so Arca runs under the small RLIMIT_MEMLOCK that containers
// give (LXD, Docker, Kubernetes). When a lock fails it says exactly what
// could not be locked and how to fix it, and never hangs or panics.
package secmem

import (
	"errors"
	"fmt"
)

// Mode says what to do when memory cannot be locked.
type Mode int

const (
	// RequireLock fails New when the pages cannot be locked.
	RequireLock Mode = iota
	// BestEffort locks when it can and otherwise keeps the buffer unlocked
	// (still excluded from core dumps and wiped on Destroy).
	BestEffort
)

// ErrLockFailed is wrapped by every *LockError.
var ErrLockFailed = errors.New("secmem: cannot lock memory")

// LockError says how much memory could not be locked, under what limit.
type LockError struct {
	// Size is the number of bytes that were to be locked.
	Size int
	// Limit is RLIMIT_MEMLOCK's soft limit in bytes, when known.
	Limit uint64
	// Err is the system's error.
	Err error
}

func (e *LockError) Error() string {
	return fmt.Sprintf("cannot lock %d bytes of memory for keys (lock limit %s): %v. "+
		"Keys must not be swapped to disk: raise the limit with `ulimit -l` or LimitMEMLOCK= in the systemd unit "+
		"(or give the process CAP_IPC_LOCK), or set disable_mlock = true in the configuration to accept that keys may be swapped",
		e.Size, limitString(e.Limit), e.Err)
}

func (e *LockError) Unwrap() []error { return []error{ErrLockFailed, e.Err} }

func limitString(l uint64) string {
	if l == ^uint64(0) {
		return "unlimited"
	}
	return fmt.Sprintf("%d bytes", l)
}

// wipe zeroes b in a way the compiler keeps.
func wipe(b []byte) {
	clear(b)
}
