package attest

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The agent's view of a connection from this very process: the kernel's
// pid and uid, and the test binary as executable with its real hash.
func TestPeerAttestsTheConnectingProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	conn, err := l.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	id, err := Peer(conn, BootTicks())
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	raw, _ := os.ReadFile(self)
	sum := sha256.Sum256(raw)
	if id.PID != os.Getpid() || id.UID != uint32(os.Getuid()) || id.ExePath != self || id.ExeSHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("identity %+v, want pid %d exe %s", id, os.Getpid(), self)
	}
	if id.Cgroup == "" {
		t.Errorf("no cgroup read (notes %v)", id.Notes)
	}
	// A connection accepted "before" the process started means the pid
	// was reused: refused.
	if _, err := Peer(conn, 0); err == nil || !strings.Contains(err.Error(), "reused") {
		t.Fatalf("accepted before start: %v", err)
	}
}

func TestContainerAndUnitFromCgroup(t *testing.T) {
	id := strings.Repeat("ab12", 16)
	for _, c := range []struct{ cgroup, container, unit string }{
		{"/system.slice/docker-" + id + ".scope", id, ""},
		{"/docker/" + id, id, ""},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-" + id + ".scope", id, ""},
		{"/kubepods/besteffort/pod0f1e/" + id, id, ""},
		{"/machine.slice/libpod-conmon.scope/crio-" + id + ".scope", id, ""},
		{"/system.slice/nginx.service", "", "nginx.service"},
		{"/user.slice/user-1000.slice/session-3.scope", "", "session-3.scope"},
		{"/system.slice/app.service/" + id[:63], "", "app.service"},
		{"/", "", ""},
	} {
		got := containerID(c.cgroup)
		unit := ""
		if got == "" {
			unit = systemdUnit(c.cgroup)
		}
		if got != c.container || unit != c.unit {
			t.Errorf("%s: container %q unit %q", c.cgroup, got, unit)
		}
	}
}
