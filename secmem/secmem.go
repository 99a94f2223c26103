// Package secmem: STUB to be replaced by the secmem helper. The API below is
// the contract; the bodies are placeholders.
package secmem

import "errors"

// Mode says what to do when memory cannot be locked.
type Mode int

const (
	// RequireLock fails New when the pages cannot be locked.
	RequireLock Mode = iota
	// BestEffort locks when it can and otherwise keeps the buffer unlocked
	// (still excluded from core dumps and wiped on Destroy).
	BestEffort
)

// Buffer is a fixed-size region of memory for key material.
type Buffer struct{ b []byte }

// New allocates a zeroed buffer of size bytes.
func New(size int, mode Mode) (*Buffer, error) {
	if size <= 0 {
		return nil, errors.New("secmem: size must be positive")
	}
	return &Buffer{b: make([]byte, size)}, nil
}

// Bytes returns the buffer's memory; valid until Destroy.
func (b *Buffer) Bytes() []byte { return b.b }

// Locked reports whether the buffer's pages are locked in RAM.
func (b *Buffer) Locked() bool { return false }

// Destroy wipes and frees the buffer. It is safe to call more than once.
func (b *Buffer) Destroy() {
	clear(b.b)
	b.b = nil
}

// Harden makes the process non-dumpable and disables core dumps.
func Harden() error { return nil }

// CheckLock reports whether size bytes of key buffers can be locked now,
// with an error whose message says what could not be locked and how to fix it.
func CheckLock(size int) error { return nil }
