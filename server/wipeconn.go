package server

import "net"

// wipingListener hands net/http connections that clear the buffers they
// fill and drain. net/http keeps a 4 KiB read buffer and a 4 KiB write
// buffer per connection and recycles them through pools without clearing
// them, so the last request's token and body, and the last answer's
// secret, would sit in them while the connection idles and after it
// closes. This layer is the only place those buffers pass through code of
// ours.
type wipingListener struct{ net.Listener }

func (l wipingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return wipingConn{c}, nil
}

type wipingConn struct{ net.Conn }

// Read clears p before filling it. The reader allows it (io.Reader may use
// all of p as scratch), and it is what wipes net/http's read buffer: when
// the connection waits for its next request, p is the whole part of the
// buffer that holds no unread byte, that is, the last request.
func (c wipingConn) Read(p []byte) (int, error) {
	clear(p)
	return c.Conn.Read(p)
}

// Write clears what it has written. io.Writer's contract says a writer
// must not touch p, but the only caller here is net/http's connection,
// which writes from its own buffer (or from the handler's answer, which
// is ours) and counts those bytes as gone once written. Only a slice of
// net/http's buffer size is cleared: an answer written straight through is
// the handler's, erased with the rest of its allocations.
func (c wipingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if cap(p) == netHTTPWriteBuffer {
		clear(p[:n])
	}
	return n, err
}
