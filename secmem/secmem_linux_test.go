//go:build linux

package secmem

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestBufferLifecycle(t *testing.T) {
	b, err := New(100, BestEffort)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(b.Bytes()); got != 100 {
		t.Fatalf("len: got %d, want 100", got)
	}
	for i, v := range b.Bytes() {
		if v != 0 {
			t.Fatalf("byte %d not zeroed", i)
		}
	}
	copy(b.Bytes(), "key material")
	if s := fmt.Sprint(b); strings.Contains(s, "key") {
		t.Fatalf("%%v printed the contents: %s", s)
	}
	if os.Getuid() == 0 && !b.Locked() {
		t.Error("root (CAP_IPC_LOCK) could not lock one page")
	}
	b.Destroy()
	b.Destroy()
	if b.Bytes() != nil || b.Locked() {
		t.Fatal("buffer still usable after Destroy")
	}
	var nilBuf *Buffer
	nilBuf.Destroy()
}

func TestWipe(t *testing.T) {
	b := []byte("secret")
	wipe(b)
	for _, v := range b {
		if v != 0 {
			t.Fatal("wipe left data")
		}
	}
}

func TestSizeMustBePositive(t *testing.T) {
	if _, err := New(0, BestEffort); err == nil {
		t.Fatal("New(0) succeeded")
	}
}

func TestLockErrorMessage(t *testing.T) {
	err := error(&LockError{Size: 4096, Limit: 8192, Err: unix.ENOMEM})
	if !errors.Is(err, ErrLockFailed) || !errors.Is(err, unix.ENOMEM) {
		t.Fatal("LockError does not unwrap to ErrLockFailed and the errno")
	}
	for _, want := range []string{"4096", "8192", "ulimit -l", "LimitMEMLOCK", "disable_mlock"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %s", want, err)
		}
	}
}

// TestHarden runs Harden in a child process (it changes the whole
// process) and checks there that the process is not dumpable and has no
// core limit.
func TestHarden(t *testing.T) {
	if os.Getenv("SECMEM_HARDEN_CHILD") == "1" {
		if err := Harden(); err != nil {
			fmt.Println("harden:", err)
			os.Exit(3)
		}
		d, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
		var r unix.Rlimit
		_ = unix.Getrlimit(unix.RLIMIT_CORE, &r)
		if d != 0 || r.Cur != 0 || r.Max != 0 {
			fmt.Printf("dumpable=%d core=%d/%d\n", d, r.Cur, r.Max)
			os.Exit(4)
		}
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHarden$")
	cmd.Env = append(os.Environ(), "SECMEM_HARDEN_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
