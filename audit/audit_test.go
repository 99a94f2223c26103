package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newFileBroker(t *testing.T) (*Broker, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	d, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b := NewBroker(func() time.Time { return time.Unix(1700000000, 0) })
	if err := b.Enable("file", d, NewSalt([]byte("0123456789abcdef0123456789abcdef")), Options{HMACAccessor: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b, path
}

func logSome(t *testing.T, b *Broker, n int) {
	t.Helper()
	for i := range n {
		r := &Request{ID: "id", Operation: "update", Path: "secret/data/app", Data: map[string]any{"data": map[string]any{"password": "hunter2", "n": i}}}
		if err := b.LogRequest(context.Background(), &Auth{ClientToken: "s.secret-token", Accessor: "acc", Policies: []string{"app"}}, r, ""); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNoSecretsInTheLog(t *testing.T) {
	b, path := newFileBroker(t)
	logSome(t, b, 3)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter2", "s.secret-token", `"acc"`} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the log holds %q in plaintext", secret)
		}
	}
	want, _ := b.Hash("file", "hunter2")
	if !bytes.Contains(raw, []byte(want)) {
		t.Fatal("the log lacks the HMAC that audit-hash computes for the secret")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	if n, err := Verify(bytes.NewReader(raw)); err != nil || n != 3 {
		t.Fatalf("verify: %d, %v", n, err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	b, path := newFileBroker(t)
	logSome(t, b, 5)
	raw, _ := os.ReadFile(path)
	lines := strings.SplitAfter(strings.TrimSuffix(string(raw), "\n"), "\n")
	check := func(name string, text string, wantLine int) {
		t.Helper()
		_, err := Verify(strings.NewReader(text))
		var ce *ChainError
		if !errors.As(err, &ce) || ce.Line != wantLine {
			t.Errorf("%s: got %v, want a chain error at line %d", name, err, wantLine)
		}
	}
	edited := strings.Replace(lines[2], `"update"`, `"delete"`, 1)
	check("edited", lines[0]+lines[1]+edited+lines[3]+lines[4], 3)
	check("deleted", lines[0]+lines[1]+lines[3]+lines[4], 3)
	check("reordered", lines[0]+lines[2]+lines[1]+lines[3]+lines[4], 2)
	check("not an audit line", lines[0]+"{\"type\":\"request\"}\n", 2)
}

func TestReopenContinuesTheChain(t *testing.T) {
	b, path := newFileBroker(t)
	logSome(t, b, 2)
	b.Close()
	// A restart appends to the same file and the chain still holds.
	d, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b2 := NewBroker(nil)
	if err := b2.Enable("file", d, NewSalt([]byte("k")), Options{}); err != nil {
		t.Fatal(err)
	}
	logSome(t, b2, 2)
	b2.Close()
	raw, _ := os.ReadFile(path)
	if n, err := Verify(bytes.NewReader(raw)); err != nil || n != 4 {
		t.Fatalf("verify after restart: %d, %v", n, err)
	}
}

func TestRefusesForeignFiles(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "plugin.so")
	if err := os.WriteFile(foreign, []byte("\x7fELF binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(foreign); !errors.Is(err, ErrNotAuditLog) {
		t.Fatalf("existing foreign file: got %v, want ErrNotAuditLog", err)
	}
	link := filepath.Join(dir, "link.log")
	if err := os.Symlink(filepath.Join(dir, "target.log"), link); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(link); err == nil {
		t.Fatal("opened an audit file through a symlink")
	}
	if _, err := OpenFile("relative.log"); err == nil {
		t.Fatal("accepted a relative path")
	}
}

type failingDevice struct{}

func (failingDevice) Write([]byte) error { return errors.New("no space left on device") }
func (failingDevice) Reopen() error      { return nil }
func (failingDevice) Close() error       { return nil }

func TestFailsClosed(t *testing.T) {
	b := NewBroker(nil)
	if err := b.LogRequest(context.Background(), nil, &Request{}, ""); err != nil {
		t.Fatalf("no devices: %v", err)
	}
	_ = b.Enable("broken", failingDevice{}, NewSalt([]byte("k")), Options{})
	err := b.LogRequest(context.Background(), nil, &Request{}, "")
	if !errors.Is(err, ErrNotRecorded) || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("all devices failing: got %v, want ErrNotRecorded naming the cause", err)
	}
	good, _ := newFileBroker(t)
	_ = good.Enable("broken", failingDevice{}, NewSalt([]byte("k")), Options{})
	if err := good.LogRequest(context.Background(), nil, &Request{}, ""); err != nil {
		t.Fatalf("one device working: %v", err)
	}
}
