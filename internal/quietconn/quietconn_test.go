package quietconn

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// pair returns a Conn dialled to a loopback listener and the
// listener's end of it.
func pair(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	c, err := Dial((&net.Dialer{}).DialContext)(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	qc, ok := c.(*Conn)
	if !ok {
		t.Fatalf("dialled a %T, want a *Conn", c)
	}
	peer := <-accepted
	if peer == nil {
		t.Fatal("nothing accepted")
	}
	t.Cleanup(func() { qc.Close(); peer.Close() })
	return qc, peer
}

// More than the socket buffers hold goes both ways whole: the writer
// meets EAGAIN and the poller, the reader reads in pieces.
func TestCarriesMoreThanTheBuffers(t *testing.T) {
	c, peer := pair(t)
	want := make([]byte, 8<<20)
	rand.Read(want)
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(peer, int64(len(want))))
		got <- b
	}()
	if n, err := c.Write(want); err != nil || n != len(want) {
		t.Fatalf("write: %d, %v", n, err)
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("the peer read %d bytes, not what was written", len(b))
	}
	go func() { peer.Write(want); peer.Close() }()
	b, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(b, want) {
		t.Fatalf("read %d bytes (%v), want the peer's %d then EOF", len(b), err, len(want))
	}
}

// A deadline ends a read with the error net/http recognises; a peer gone
// makes a write fail with an error, not a SIGPIPE.
func TestDeadlineAndBrokenPeer(t *testing.T) {
	c, peer := pair(t)
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := c.Read(make([]byte, 10))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	c.SetReadDeadline(time.Time{})
	peer.(*net.TCPConn).SetLinger(0) // closing resets the connection
	peer.Close()
	var werr error
	for range 100 {
		if _, werr = c.Write([]byte("after the peer left")); werr != nil {
			break
		}
	}
	if !errors.Is(werr, syscall.ECONNRESET) && !errors.Is(werr, syscall.EPIPE) {
		t.Fatalf("writing to a reset connection: %v, want ECONNRESET or EPIPE", werr)
	}
	if _, err := c.Read(make([]byte, 10)); err == nil {
		t.Fatal("a read of a reset connection succeeded")
	}
	c.Close()
	if _, err := c.Read(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v, want net.ErrClosed", err)
	}
}
