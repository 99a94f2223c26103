package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/storagetest"
)

func open(t testing.TB, path string) *Backend {
	t.Helper()
	b, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		return open(t, filepath.Join(t.TempDir(), "arca.db"))
	})
}

func BenchmarkBolt(b *testing.B) {
	storagetest.RunBenchmarks(b, func(b *testing.B) storage.Backend {
		return open(b, filepath.Join(b.TempDir(), "arca.db"))
	})
}

func TestFileModeAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "arca.db")
	b, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(context.Background(), &storage.Entry{Key: "k", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode: %v, %v; want 0600", fi.Mode(), err)
	}
	b = open(t, path)
	if e, err := b.Get(context.Background(), "k"); err != nil || e == nil || string(e.Value) != "v" {
		t.Fatalf("after reopen: %+v, %v", e, err)
	}
}

func TestLockedByAnotherOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "arca.db")
	open(t, path)
	// bbolt's flock is per open file description, so a second Open in the
	// same process conflicts just as another process would.
	_, err := Open(path, Options{LockTimeout: 100 * 1e6})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: got %v, want ErrLocked", err)
	}
}

// TestKillNineKeepsAcknowledgedWrites runs a child that writes keys and
// prints each acknowledgement; the parent kills it with SIGKILL mid-stream
// and finds every acknowledged key after reopening.
func TestKillNineKeepsAcknowledgedWrites(t *testing.T) {
	if path := os.Getenv("BOLT_KILL_CHILD"); path != "" {
		b, err := Open(path, Options{})
		if err != nil {
			fmt.Println("open:", err)
			os.Exit(3)
		}
		for i := 0; ; i++ {
			if err := b.Put(context.Background(), &storage.Entry{Key: fmt.Sprintf("k/%d", i), Value: []byte(strconv.Itoa(i))}); err != nil {
				os.Exit(4)
			}
			fmt.Printf("ack %d\n", i)
		}
	}
	path := filepath.Join(t.TempDir(), "arca.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillNineKeepsAcknowledgedWrites$")
	cmd.Env = append(os.Environ(), "BOLT_KILL_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	acked := -1
	tmp := make([]byte, 512)
	for acked < 50 {
		n, err := out.Read(tmp)
		if err != nil {
			t.Fatalf("child stopped early: %v", err)
		}
		buf = append(buf, tmp[:n]...)
		lines := strings.Split(string(buf), "\n")
		for _, l := range lines[:len(lines)-1] {
			if v, ok := strings.CutPrefix(l, "ack "); ok {
				acked, _ = strconv.Atoi(v)
			}
		}
		buf = []byte(lines[len(lines)-1])
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	b := open(t, path)
	for i := 0; i <= acked; i++ {
		e, err := b.Get(context.Background(), fmt.Sprintf("k/%d", i))
		if err != nil || e == nil || string(e.Value) != strconv.Itoa(i) {
			t.Fatalf("acknowledged key k/%d lost after kill -9: %+v, %v", i, e, err)
		}
	}
}

// BenchmarkParallelPut shows group commit: concurrent writers share
// fsyncs. Compare ns/op with -cpu=1 and with more goroutines.
func BenchmarkParallelPut(b *testing.B) {
	be := open(b, filepath.Join(b.TempDir(), "arca.db"))
	value := make([]byte, 1024)
	var n atomic.Int64
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := fmt.Sprintf("k/%d", n.Add(1)%1000)
			if err := be.Put(context.Background(), &storage.Entry{Key: k, Value: value}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
