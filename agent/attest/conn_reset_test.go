package attest

import (
	"errors"
	"syscall"
	"testing"
)

// A caller that closes with an answer unread resets the connection: the
// read that learns of it returns 0 bytes and the error, never recvmsg's
// -1, on which net/http's bufio panics.
func TestConnReadAfterResetCountsNothing(t *testing.T) {
	client, conn := connPair(t)
	if _, err := conn.Write([]byte("an answer the caller never reads")); err != nil {
		t.Fatal(err)
	}
	client.Close()
	n, err := conn.Read(make([]byte, 16))
	if n != 0 || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after a reset: %d, %v; want 0 and ECONNRESET", n, err)
	}
}
