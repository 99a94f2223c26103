package attest

import (
	"net"
	"path/filepath"
	"sync/atomic"
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
	// Sixteen connections of one process, re-checked concurrently: the
	// process is watched once for all of them, and requests share the
	// checks that started after they arrived (checks/op).
	conns := make([]*Conn, 16)
	for i := range conns {
		_, conns[i] = connPair(b)
		if _, err := conns[i].Identity(); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("recheck16", func(b *testing.B) {
		var next atomic.Int32
		checks := checksRun.Load()
		b.RunParallel(func(pb *testing.PB) {
			c := conns[int(next.Add(1)-1)%len(conns)]
			for pb.Next() {
				if _, err := c.Identity(); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(checksRun.Load()-checks)/float64(b.N), "checks/op")
	})
	b.Run("sock_diag", func(b *testing.B) {
		for b.Loop() {
			if _, err := peerInode(local); err != nil {
				b.Fatal(err)
			}
		}
	})
}
