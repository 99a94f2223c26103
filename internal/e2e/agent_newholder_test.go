package e2e

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// A connection attested and served, then inherited by a child that runs
// another program (a process created after the holder scan): the next
// request on it is refused, although the child never writes. The agent
// finds the child among the processes created since the scan (or scans
// in full, when it cannot be sure it saw every new pid); either way it
// says the connection is shared. A new connection is served again.
func TestAgentRefusesANewHolderOfAConnection(t *testing.T) {
	requireRoot(t)
	srv, root := startDev(t, "root")
	f := newAgentFixture(t, srv, root)
	selfRole(t, root)
	conn, err := net.Dial("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ask := appReader(t, conn)
	for range 2 {
		if code, body := ask(); code != 200 || !strings.Contains(body, "s3cret-for-app") {
			t.Fatalf("the caller's own request: %d %s\nagent:\n%s", code, body, f.output())
		}
	}
	before := fullAttestations(t, f)
	cf, err := conn.(*net.UnixConn).File()
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command("/bin/sh", "-c", "read x")
	child.ExtraFiles = []*os.File{cf}
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	cf.Close()
	t.Cleanup(func() { stdin.Close(); _ = child.Process.Kill(); _ = child.Wait() })
	code, body := ask()
	if code != 403 || strings.Contains(body, "s3cret") || !strings.Contains(body, "shared with pid") {
		t.Fatalf("a request on a connection a child running /bin/sh holds: %d %s, want a 403 saying it is shared\nagent:\n%s", code, body, f.output())
	}
	after := fullAttestations(t, f)
	t.Logf("refused: %s; attested in full for new_holder %v more, pid_epoch %v more, new_process %v more", firstLine(body, "errors"),
		after["new_holder"]-before["new_holder"], after["pid_epoch"]-before["pid_epoch"], after["new_process"]-before["new_process"])
	if after["new_holder"]+after["pid_epoch"]+after["new_process"] == before["new_holder"]+before["pid_epoch"]+before["new_process"] {
		t.Fatalf("the refusal was not counted as a new holder or a scan in full: %v → %v", before, after)
	}
	if code, body := f.get("/v1/secret/data/app"); code != 200 || !strings.Contains(body, "s3cret-for-app") {
		t.Fatalf("a new connection: %d %s", code, body)
	}
}
