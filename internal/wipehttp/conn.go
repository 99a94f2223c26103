package wipehttp

import (
	"context"
	"net"
)

// Listener hands net/http connections that clear the buffers they fill
// and drain. net/http keeps a 4 KiB read buffer and a 4 KiB write buffer
// per connection (a client's too) and recycles them through pools without
// clearing them, so the last request's token and body, and the last
// answer's secret, would sit in them while the connection idles and after
// it closes. This layer is the only place those buffers pass through code
// of ours.
type Listener struct{ net.Listener }

func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Conn{c}, nil
}

// Conn clears the buffers net/http reads into and writes from; it works
// for a server's connections and a client's (see Dial).
type Conn struct{ net.Conn }

// Unwrap returns the connection underneath, for code that needs its type
// (the agent's attestation).
func (c Conn) Unwrap() net.Conn { return c.Conn }

// netHTTPWriteBuffer is the size of the write buffer net/http gives each
// connection, server side and client side.
const netHTTPWriteBuffer = 4 << 10

// Dial wraps a dial function so that a client's connections are Conns.
func Dial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return Conn{c}, nil
	}
}

// Read clears p before filling it. The reader allows it (io.Reader may use
// all of p as scratch), and it is what wipes net/http's read buffer: when
// the connection waits for its next request, p is the whole part of the
// buffer that holds no unread byte, that is, the last request.
func (c Conn) Read(p []byte) (int, error) {
	clear(p)
	return c.Conn.Read(p)
}

// Write clears what it has written. io.Writer's contract says a writer
// must not touch p, but the only caller here is net/http's connection,
// which writes from its own buffer (or from the handler's answer, which
// is ours) and counts those bytes as gone once written. Only a slice of
// net/http's buffer size is cleared: an answer written straight through is
// the handler's (a copy, see WriteBody), overwritten by the collector once
// freed.
func (c Conn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if cap(p) == netHTTPWriteBuffer {
		clear(p[:n])
	}
	return n, err
}
