package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ownCgroup is this process's cgroup v2 path (what an agent it starts
// inherits).
func ownCgroup(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(l, "0::"); ok {
			return rest
		}
	}
	t.Fatal("this host has no cgroup v2 hierarchy")
	return ""
}

// The exec child runs in a cgroup of its own below the agent's, which a
// role can bind and which another process of the child's user cannot
// enter; when the child is stopped (its role deleted), what it started
// in the background is stopped too, and the cgroup is removed when the
// agent exits.
func TestAgentExecChildOwnCgroup(t *testing.T) {
	requireRoot(t)
	p, root := startDev(t, "root")
	f := prepareAgent(t, p, root)
	if err := root.Sys().PutPolicy("agent", `path "auth/workload/login" { capabilities = ["update"] }
path "sys/events/subscribe/*" { capabilities = ["read"] }
path "auth/workload/role/*" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	parent := ownCgroup(t)
	uid, gid := testUser(t, "arca-wl-cgroup")
	// Bound to the agent's child cgroups: a process of the same user and
	// executable anywhere else is not this role's.
	seen := f.writeExecChildConfig("arca-wl-cgroup", uid, gid, map[string]any{"bound_cgroups": []string{filepath.Join(parent, "arca-exec-*")}},
		`sleep 600 & echo "$! $APP_PASSWORD $(grep ^0:: /proc/self/cgroup)" > SEEN.tmp; mv SEEN.tmp SEEN; exec sleep 600`)
	f.start()
	var fields []string
	agentEventually(t, 20*time.Second, func() (bool, string) {
		b, _ := os.ReadFile(seen)
		fields = strings.Fields(string(b))
		return len(fields) == 3, fmt.Sprintf("the child wrote %q\nagent:\n%s", b, f.output())
	})
	want := fmt.Sprintf("0::%s", filepath.Join(parent, fmt.Sprintf("arca-exec-%d", f.agent.Process.Pid)))
	if fields[1] != "s3cret-for-app" || fields[2] != want {
		t.Fatalf("the child saw %q; want the password and cgroup %s", fields[1:], want)
	}
	grandchild := fields[0]
	dir := cgroupDir(t, strings.TrimPrefix(want, "0::"))

	// The child's user cannot move another of its processes in.
	join := fmt.Sprintf("echo $$ > %s/cgroup.procs", dir)
	r := curlReq{uid: uid, gid: gid, exe: "/bin/sh"}
	cmd := r.command("")
	cmd.Args = []string{"/bin/sh", "-c", join}
	if b, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("a process of the child's user joined its cgroup: %s", b)
	}

	f.deleteChildRole()
	if st := processState(grandchild); st != "" && st != "Z" {
		t.Fatalf("what the child started (pid %s, state %s) outlived it\nagent:\n%s", grandchild, st, f.output())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the child's cgroup %s is left after the agent exited: %v", dir, err)
	}
}

// cgroupDir is where cgroup (a v2 path) is in the mounted hierarchy.
func cgroupDir(t *testing.T, cgroup string) string {
	t.Helper()
	for _, mount := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		if _, err := os.Stat(filepath.Join(mount, "cgroup.controllers")); err == nil {
			return filepath.Join(mount, cgroup)
		}
	}
	t.Fatal("no cgroup v2 hierarchy mounted")
	return ""
}

// processState is the state letter of pid ("Z": dead, not yet reaped by
// whoever it was handed to), "" when there is no such process.
func processState(pid string) string {
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return ""
	}
	s := string(raw)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2 : i+3]
	}
	return "?"
}
