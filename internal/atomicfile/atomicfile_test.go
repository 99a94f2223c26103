package atomicfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// What someone put in the destination's place does not stall or fool
// the write: a FIFO (which a blocking open would wait on for a writer)
// is replaced, a symbolic link is replaced rather than written through,
// and a directory makes an error that leaves no temporary file behind.
func TestWriteOverWhatIsInTheWay(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.conf")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := Write(fifo, []byte("one"), 0o600, -1, -1); err != nil || !changed {
		t.Fatalf("over a FIFO: changed %v, %v", changed, err)
	}
	if fi, err := os.Lstat(fifo); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("the FIFO's place holds %v (%v), want a regular file", fi.Mode(), err)
	}

	target := filepath.Join(dir, "elsewhere")
	if err := os.WriteFile(target, []byte("not ours"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.conf")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if changed, err := Write(link, []byte("two"), 0o600, -1, -1); err != nil || !changed {
		t.Fatalf("over a link: changed %v, %v", changed, err)
	}
	if b, _ := os.ReadFile(target); string(b) != "not ours" {
		t.Errorf("the link's target now holds %q: written through the link", b)
	}
	if fi, err := os.Lstat(link); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the link's place holds %v (%v), want a regular file", fi.Mode(), err)
	}

	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(sub, []byte("three"), 0o600, -1, -1); err == nil {
		t.Fatal("writing over a directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 { // fifo.conf, elsewhere, link.conf, sub
		t.Errorf("left in the directory: %v, want no temporary file", entries)
	}
}

// A file of the same size but other bytes is rewritten; one with the
// same bytes is left alone.
func TestWriteComparesBytesNotSizes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.conf")
	if err := os.WriteFile(path, []byte("password = v1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := Write(path, []byte("password = v2\n"), 0o600, -1, -1); err != nil || !changed {
		t.Fatalf("same size, other bytes: changed %v, %v", changed, err)
	}
	if b, _ := os.ReadFile(path); string(b) != "password = v2\n" {
		t.Fatalf("holds %q", b)
	}
	if changed, err := Write(path, []byte("password = v2\n"), 0o600, -1, -1); err != nil || changed {
		t.Fatalf("same bytes: changed %v, %v", changed, err)
	}
}

func TestWriteReplacesOnlyOnChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.conf")
	changed, err := Write(path, []byte("one"), 0o640, -1, -1)
	if err != nil || !changed {
		t.Fatalf("first write: %v, %v", changed, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode: got %o, want 640", fi.Mode().Perm())
	}
	ino := fi.Sys().(*syscall.Stat_t).Ino
	if changed, err := Write(path, []byte("one"), 0o640, -1, -1); err != nil || changed {
		t.Fatalf("same content: changed %v, %v; want no write", changed, err)
	}
	fi, _ = os.Stat(path)
	if fi.Sys().(*syscall.Stat_t).Ino != ino {
		t.Errorf("the file was replaced though its content did not change")
	}
	if changed, err := Write(path, []byte("two"), 0o600, -1, -1); err != nil || !changed {
		t.Fatalf("new content: %v, %v", changed, err)
	}
	b, _ := os.ReadFile(path)
	fi, _ = os.Stat(path)
	if string(b) != "two" || fi.Mode().Perm() != 0o600 || fi.Sys().(*syscall.Stat_t).Ino == ino {
		t.Errorf("got %q mode %o, want a new file holding \"two\" with 600", b, fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if _, err := Write(filepath.Join(dir, "sub", "x"), []byte("x"), 0o600, -1, -1); err != nil {
		t.Errorf("a missing directory: %v, want it created", err)
	}
	if os.Getuid() == 0 {
		if _, err := Write(path, []byte("three"), 0o640, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		fi, _ = os.Stat(path)
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || st.Gid != 65534 {
			t.Errorf("owner: got %d:%d, want 65534:65534", st.Uid, st.Gid)
		}
	}
}
