// Package quietconn makes TCP connections whose reads and writes the Go
// runtime does not see, so that they do not wake its monitor thread.
package quietconn

import (
	"context"
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// Conn does a TCP connection's reads and writes as raw system calls,
// which the Go runtime does not see. Its ordinary system calls tell its
// monitor thread (sysmon) to wake, and that thread then polls every 20
// µs for as long as the process is busy: for an agent re-rendering a
// file on a change event, a fifth of its CPU went to that polling, times
// every agent on the host. A read or write of a non-blocking socket returns at
// once (EAGAIN when it would wait, and then the runtime's poller waits,
// as for any connection), so the runtime loses nothing by not knowing.
// Deadlines, closing and the poller are the connection's own (it is a
// net.TCPConn underneath).
type Conn struct {
	*net.TCPConn
	raw syscall.RawConn
}

// Dial wraps a dial function so that its TCP connections are Conns;
// other connections pass as they are.
func Dial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc, ok := c.(*net.TCPConn)
		if !ok {
			return c, nil
		}
		raw, err := tc.SyscallConn()
		if err != nil {
			return c, nil
		}
		return &Conn{TCPConn: tc, raw: raw}, nil
	}
}

func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := c.raw.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // the poller waits for the socket
			}
			n, errno = int(r), e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *Conn) Write(p []byte) (int, error) {
	var n int
	var errno syscall.Errno
	err := c.raw.Write(func(fd uintptr) bool {
		for n < len(p) {
			// sendto with MSG_NOSIGNAL: a peer gone makes EPIPE, not
			// SIGPIPE.
			r, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n), syscall.MSG_NOSIGNAL, 0, 0)
			switch e {
			case 0:
				n += int(r)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false
			default:
				errno = e
				return true
			}
		}
		return true
	})
	switch {
	case err != nil:
		return n, c.opError("write", err)
	case errno != 0:
		return n, c.opError("write", os.NewSyscallError("write", errno))
	}
	return n, nil
}

// opError wraps err as net.TCPConn would, so that callers see the same
// errors (a deadline's is a net.Error whose Timeout is true).
func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
