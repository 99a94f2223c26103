//go:build !linux

package secmem

import "errors"

// Buffer is heap memory on systems where locking is not implemented yet.
type Buffer struct{ data []byte }

// New returns a heap buffer; with RequireLock it fails, since this system
// cannot lock it.
func New(size int, mode Mode) (*Buffer, error) {
	if size <= 0 {
		return nil, errors.New("secmem: size must be positive")
	}
	if mode == RequireLock {
		return nil, &LockError{Size: size, Err: errors.New("memory locking is not implemented on this system")}
	}
	return &Buffer{data: make([]byte, size)}, nil
}

func (b *Buffer) Bytes() []byte  { return b.data }
func (b *Buffer) Locked() bool   { return false }
func (b *Buffer) String() string { return "secmem.Buffer(redacted)" }

// Destroy wipes the buffer.
func (b *Buffer) Destroy() {
	if b != nil {
		wipe(b.data)
		b.data = nil
	}
}

// Harden is not implemented on this system.
func Harden() error { return nil }

// CheckLock always fails on this system.
func CheckLock(size int) error {
	_, err := New(size, RequireLock)
	return err
}

// LockLimit is unknown on this system.
func LockLimit() (uint64, error) { return 0, errors.New("not supported") }
