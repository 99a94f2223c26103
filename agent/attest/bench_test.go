package attest

import (
	"net"
	"path/filepath"
	"testing"
)

// BenchmarkPeer is the full attestation (the caller is this process; the
// holder check scans every process's descriptors), which a connection
// costs at its first request, and "recheck" what each later request on
// it costs while nothing changed (Conn.Identity).
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
	_, ac := connPair(b)
	if _, err := ac.Identity(); err != nil {
		b.Fatal(err)
	}
	b.Run("recheck", func(b *testing.B) {
		// Another process created on the host meanwhile makes a request
		// attest in full: the share of those is reported.
		full, n := 0, 0
		for b.Loop() {
			att := ac.att
			if _, err := ac.Identity(); err != nil {
				b.Fatal(err)
			}
			if ac.att != att {
				full++
			}
			n++
		}
		b.ReportMetric(float64(full)/float64(n), "full/op")
	})
	b.Run("sock_diag", func(b *testing.B) {
		for b.Loop() {
			if _, err := peerInode(local); err != nil {
				b.Fatal(err)
			}
		}
	})
}
