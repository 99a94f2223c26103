package audit

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Device is where audit lines go.
type Device interface {
	// Write records one line; an error means it was not recorded.
	Write(line []byte) error
	// Reopen closes and opens the target again (log rotation on SIGHUP).
	Reopen() error
	Close() error
}

// Chained is implemented by devices that remember the last hash written
// (a file appended to across restarts).
type Chained interface {
	LastHash() string
}

var (
	// ErrNotAuditLog: the file exists and is not an Arca audit log.
	ErrNotAuditLog = errors.New("the file exists and is not an Arca audit log")
	// ErrNotRecorded: no enabled device recorded an entry.
	ErrNotRecorded = errors.New("audit: no audit device could record the request, so it was refused")
)

// FileDevice appends lines to a file created 0600.
type FileDevice struct {
	path string
	mu   sync.Mutex
	f    *os.File
	last string
}

var (
	_ Device  = (*FileDevice)(nil)
	_ Chained = (*FileDevice)(nil)
)

// OpenFile opens (or creates, mode 0600) the audit file at path. It
// refuses an existing file that is not an Arca audit log, a directory, or
// anything but a regular file, and clears execute bits. "stdout" writes
// to standard output.
func OpenFile(path string) (*FileDevice, error) {
	d := &FileDevice{path: path}
	if err := d.open(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *FileDevice) open() error {
	if d.path == "stdout" {
		d.f = os.Stdout
		return nil
	}
	if !filepath.IsAbs(d.path) {
		return fmt.Errorf("audit file path %q must be absolute", d.path)
	}
	if fi, err := os.Lstat(d.path); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("audit file %s: not a regular file (a symlink, directory or device)", d.path)
		}
		f, err := os.Open(d.path)
		if err != nil {
			return err
		}
		last, err := lastHash(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("audit file %s: %w", d.path, err)
		}
		d.last = last
	}
	f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscallNoFollow, 0o600)
	if err != nil {
		return fmt.Errorf("opening audit file: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("audit file %s: %w", d.path, err)
	}
	d.f = f
	return nil
}

// Write appends one line.
func (d *FileDevice) Write(line []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return fmt.Errorf("audit file %s is closed", d.path)
	}
	_, err := d.f.Write(line)
	return err
}

// LastHash is the hash of the last line in the file when it was opened.
func (d *FileDevice) LastHash() string { return d.last }

// Reopen starts writing to the path again (after rotation).
func (d *FileDevice) Reopen() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f != nil && d.f != os.Stdout {
		d.f.Close()
	}
	d.f = nil
	return d.open()
}

// Close closes the file.
func (d *FileDevice) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil || d.f == os.Stdout {
		return nil
	}
	err := d.f.Close()
	d.f = nil
	return err
}

// SocketDevice writes lines to a tcp, udp or unix socket, reconnecting
// when a write fails.
type SocketDevice struct {
	network, address string
	mu               sync.Mutex
	conn             net.Conn
}

var _ Device = (*SocketDevice)(nil)

// NewSocket returns a socket device; it connects on first write.
func NewSocket(network, address string) (*SocketDevice, error) {
	switch network {
	case "tcp", "udp", "unix":
	default:
		return nil, fmt.Errorf("socket_type must be tcp, udp or unix, got %q", network)
	}
	if address == "" {
		return nil, errors.New("a socket audit device needs an address")
	}
	return &SocketDevice{network: network, address: address}, nil
}

func (d *SocketDevice) Write(line []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for attempt := 0; attempt < 2; attempt++ {
		if d.conn == nil {
			c, err := net.DialTimeout(d.network, d.address, 2*time.Second)
			if err != nil {
				return fmt.Errorf("audit socket %s: %w", d.address, err)
			}
			d.conn = c
		}
		_ = d.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if _, err := d.conn.Write(line); err == nil {
			return nil
		}
		d.conn.Close()
		d.conn = nil
	}
	return fmt.Errorf("audit socket %s: write failed", d.address)
}

func (d *SocketDevice) Reopen() error { return d.Close() }

func (d *SocketDevice) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == nil {
		return nil
	}
	err := d.conn.Close()
	d.conn = nil
	return err
}

// writerDevice adapts an io.Writer (syslog) to Device.
type writerDevice struct {
	mu sync.Mutex
	w  io.WriteCloser
}

func (d *writerDevice) Write(line []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, err := d.w.Write(line)
	return err
}
func (d *writerDevice) Reopen() error { return nil }
func (d *writerDevice) Close() error  { return d.w.Close() }
