//go:build linux

package secmem

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Buffer is a fixed-size region of locked memory for key material.
type Buffer struct {
	region []byte // guard page + data pages + guard page
	data   []byte // the caller's bytes, inside the data pages
	locked bool
}

var pageSize = os.Getpagesize()

// New maps a zeroed buffer of size bytes between two inaccessible guard
// pages, excludes it from core dumps and locks it.
func New(size int, mode Mode) (*Buffer, error) {
	if size <= 0 {
		return nil, errors.New("secmem: size must be positive")
	}
	dataLen := (size + pageSize - 1) / pageSize * pageSize
	region, err := unix.Mmap(-1, 0, dataLen+2*pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("secmem: mapping %d bytes: %w", dataLen, err)
	}
	data := region[pageSize : pageSize+dataLen]
	fail := func(err error) (*Buffer, error) {
		_ = unix.Munmap(region)
		return nil, err
	}
	if err := unix.Mprotect(region[:pageSize], unix.PROT_NONE); err != nil {
		return fail(fmt.Errorf("secmem: guard page: %w", err))
	}
	if err := unix.Mprotect(region[pageSize+dataLen:], unix.PROT_NONE); err != nil {
		return fail(fmt.Errorf("secmem: guard page: %w", err))
	}
	if err := unix.Madvise(data, unix.MADV_DONTDUMP); err != nil {
		return fail(fmt.Errorf("secmem: excluding from core dumps: %w", err))
	}
	// A forked child gets zeroes, not our keys.
	_ = unix.Madvise(data, unix.MADV_WIPEONFORK)
	b := &Buffer{region: region, data: data[:size]}
	if err := unix.Mlock(data); err != nil {
		if mode == RequireLock {
			limit, _ := LockLimit()
			return fail(&LockError{Size: dataLen, Limit: limit, Err: err})
		}
		return b, nil
	}
	b.locked = true
	return b, nil
}

// Bytes returns the buffer's memory; valid until Destroy.
func (b *Buffer) Bytes() []byte { return b.data }

// Locked reports whether the buffer's pages are locked in RAM.
func (b *Buffer) Locked() bool { return b != nil && b.locked }

// String never shows the contents.
func (b *Buffer) String() string { return "secmem.Buffer(redacted)" }

// Destroy wipes, unlocks and unmaps the buffer. It is safe to call on nil
// and more than once.
func (b *Buffer) Destroy() {
	if b == nil || b.region == nil {
		return
	}
	wipe(b.region[pageSize : len(b.region)-pageSize])
	if b.locked {
		_ = unix.Munlock(b.region[pageSize : len(b.region)-pageSize])
	}
	_ = unix.Munmap(b.region)
	b.region, b.data, b.locked = nil, nil, false
}

// Harden makes the process non-dumpable (no ptrace by other users, no
// /proc/<pid>/mem reads, no core file) and sets the core size limit to 0.
func Harden() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("secmem: prctl(PR_SET_DUMPABLE): %w", err)
	}
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		return fmt.Errorf("secmem: setrlimit(RLIMIT_CORE): %w", err)
	}
	return nil
}

// CheckLock reports whether size bytes of key buffers can be locked now.
func CheckLock(size int) error {
	b, err := New(size, RequireLock)
	if err != nil {
		return err
	}
	b.Destroy()
	return nil
}

// LockLimit returns the soft RLIMIT_MEMLOCK in bytes.
func LockLimit() (uint64, error) {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &r); err != nil {
		return 0, err
	}
	return r.Cur, nil
}
