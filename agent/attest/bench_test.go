package attest

import (
	"net"
	"path/filepath"
	"testing"
)

// BenchmarkPeer is the attestation every request through the agent's
// socket costs (the caller is this process; the holder check scans every
// process's descriptors).
func BenchmarkPeer(b *testing.B) {
	path := filepath.Join(b.TempDir(), "s.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	conn, err := l.AcceptUnix()
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ticks := BootTicks()
	b.Run("peer", func(b *testing.B) {
		for b.Loop() {
			if _, err := Peer(conn, ticks); err != nil {
				b.Fatal(err)
			}
		}
	})
	local, err := localInode(conn)
	if err != nil {
		b.Fatal(err)
	}
	peer, err := peerInode(local)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("holders", func(b *testing.B) {
		for b.Loop() {
			if _, err := holders(peer); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sock_diag", func(b *testing.B) {
		for b.Loop() {
			if _, err := peerInode(local); err != nil {
				b.Fatal(err)
			}
		}
	})
}
