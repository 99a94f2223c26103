package attest

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// Units and container ids come only from the layouts systemd and the
// container runtimes create; a name made up in a delegated subtree (a
// user's user@UID.service, a unit's own sub-cgroups) counts for nothing.
func TestContainerAndUnitFromCgroup(t *testing.T) {
	id := strings.Repeat("ab12", 16)
	victim := strings.Repeat("cd34", 16)
	user := "/user.slice/user-1000.slice/user@1000.service"
	for _, c := range []struct {
		name, cgroup, container, unit string
	}{
		{"docker, systemd driver", "/system.slice/docker-" + id + ".scope", id, ""},
		{"docker, cgroupfs driver", "/docker/" + id, id, ""},
		{"containerd, cgroupfs driver", "/k8s.io/" + id, id, ""},
		{"kubernetes, systemd driver", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-" + id + ".scope", id, ""},
		{"kubernetes guaranteed, systemd driver", "/kubepods.slice/kubepods-pod1.slice/crio-" + id + ".scope", id, ""},
		{"kubernetes, cgroupfs driver", "/kubepods/besteffort/pod0f1e/" + id, id, ""},
		{"kubernetes guaranteed, cgroupfs driver", "/kubepods/pod0f1e/" + id, id, ""},
		{"cri-o, cgroupfs driver", "/kubepods/burstable/pod0f1e/crio-" + id, id, ""},
		{"podman, rootful", "/machine.slice/libpod-" + id + ".scope", id, ""},
		{"a container's own sub-cgroup", "/system.slice/docker-" + id + ".scope/docker-" + victim + ".scope", id, ""},
		{"a system service", "/system.slice/nginx.service", "", "nginx.service"},
		{"a service's sub-cgroup", "/system.slice/nginx.service/worker", "", "nginx.service"},
		{"a login session", "/user.slice/user-1000.slice/session-3.scope", "", "session-3.scope"},
		{"the init scope", "/init.scope", "", "init.scope"},
		{"not quite an id", "/system.slice/app.service/" + id[:63], "", "app.service"},
		{"root", "/", "", ""},
		{"empty", "", "", ""},

		// Forged: names made up below a delegated subtree.
		{"forged unit in a user's manager", user + "/app.slice/reports.service", "", ""},
		{"forged unit, systemd-run --user", user + "/reports.service", "", ""},
		{"forged container in a user's manager", user + "/docker-" + victim + ".scope", "", ""},
		{"forged cgroupfs container in a user's manager", user + "/docker/" + victim, "", ""},
		{"forged unit below a delegated service", "/system.slice/build.service/reports.service", "", "build.service"},
		{"forged container below a delegated service", "/system.slice/build.service/docker-" + victim + ".scope", "", "build.service"},
		{"forged id below a delegated service", "/system.slice/build.service/" + victim, "", "build.service"},
		{"forged kubepods below a user", user + "/kubepods/pod1/" + victim, "", ""},
		{"forged id in a delegated top-level cgroup", "/lxc.payload.c1/" + victim, "", ""},
		{"forged unit in a delegated top-level cgroup", "/lxc.payload.c1/system.slice/reports.service", "", ""},
		{"rootless podman", user + "/user.slice/libpod-" + victim + ".scope", "", ""},
		{"a user manager itself", "/user.slice/user-1000.slice/user@1000.service", "", ""},
	} {
		container, unit := fromCgroup(c.cgroup)
		if container != c.container || unit != c.unit {
			t.Errorf("%s: %s: got container %q unit %q, want %q %q", c.name, c.cgroup, container, unit, c.container, c.unit)
		}
	}
}

// The loader variables and the tracer are read from a real process.
func TestLoaderOverridesAndTracer(t *testing.T) {
	cmd := exec.Command("/usr/bin/sleep", "30")
	cmd.Env = []string{"LD_PRELOAD=/nonexistent.so", "LD_LIBRARY_PATH=", "LD_AUDIT=/a.so", "OTHER=LD_PRELOAD=x"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// Until the exec has set the new environment up, /proc shows the
	// forked test binary's, or none.
	var vars []string
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		vars, err = loaderOverrides(cmd.Process.Pid)
		if err != nil || len(vars) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || strings.Join(vars, ",") != "LD_PRELOAD,LD_AUDIT" {
		t.Fatalf("got %v, %v; want LD_PRELOAD and LD_AUDIT (LD_LIBRARY_PATH is empty)", vars, err)
	}
	if tracer, err := tracerPID(cmd.Process.Pid); err != nil || tracer != 0 {
		t.Fatalf("an untraced process: tracer %d, %v", tracer, err)
	}
	_, facts, err := exe(cmd.Process.Pid)
	if err != nil || !facts.dynamic {
		t.Fatalf("/usr/bin/sleep: %+v, %v; want dynamically linked", facts, err)
	}
}

// A file without a program interpreter (a static executable) is not
// dynamic; one that is not ELF counts as dynamic (the checks that follow
// only withhold).
func TestHasInterpreter(t *testing.T) {
	if hasInterpreter(strings.NewReader("#!/bin/sh\n")) != true {
		t.Error("a script counts as not dynamic")
	}
	f, err := os.Open("/usr/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !hasInterpreter(f) {
		t.Error("/usr/bin/sleep has no interpreter")
	}
}
