package attest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// connPair is a connection from this process to a Listener, accepted.
func connPair(t testing.TB) (client *net.UnixConn, conn *Conn) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.sock")
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewListener(ul)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ac, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ac.Close() })
	return c, ac.(*Conn)
}

// read reads n bytes from conn, as the HTTP server would.
func read(t testing.TB, conn *Conn, n int) string {
	t.Helper()
	b := make([]byte, n)
	got := 0
	for got < n {
		m, err := conn.Read(b[got:])
		if err != nil {
			t.Fatal(err)
		}
		got += m
	}
	return string(b)
}

// The caller is attested once; later requests keep that attestation
// while nothing changed, and attest anew once a process was created on
// the host (a fork may have copied the connection).
func TestConnAttestsOnceAndRechecks(t *testing.T) {
	client, conn := connPair(t)
	if _, err := client.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	read(t, conn, 1)
	id, err := conn.Identity()
	if err != nil {
		t.Fatal(err)
	}
	if id.PID != os.Getpid() {
		t.Fatalf("pid: got %d, want %d", id.PID, os.Getpid())
	}
	// Other tests create processes on this host at any time (go test
	// runs packages side by side), and each one rightly forces a new
	// attestation: look for two requests back to back with none between.
	kept := false
	for range 200 {
		base, err := conn.Identity()
		if err != nil {
			t.Fatal(err)
		}
		first := conn.att
		again, err := conn.Identity()
		if err != nil {
			t.Fatal(err)
		}
		if conn.att == first && again == base {
			kept = true
			break
		}
	}
	if !kept {
		t.Fatal("a second request with nothing changed was attested in full again, every time")
	}
	first := conn.att
	// A new process on the host: the holders are scanned again.
	if err := exec.Command("/bin/true").Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Identity(); err != nil {
		t.Fatal(err)
	}
	if conn.att == first {
		t.Fatal("a process was created, and the connection was not attested again")
	}
}

// Bytes written on the connection by another process (here a child that
// got the descriptor) make every later request on it refused, even once
// that process has exited and the holder scan finds no one else.
func TestConnRefusesAnotherWriter(t *testing.T) {
	client, conn := connPair(t)
	if _, err := client.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	read(t, conn, 1)
	if _, err := conn.Identity(); err != nil {
		t.Fatal(err)
	}
	f, err := client.File()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", "printf b >&3")
	cmd.ExtraFiles = []*os.File{f}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	f.Close()
	read(t, conn, 1)
	for i := range 2 {
		_, err := conn.Identity()
		if err == nil || !strings.Contains(err.Error(), "written to by pid") {
			t.Fatalf("request %d after another process wrote: got %v, want a refusal naming the writer", i, err)
		}
	}
}
