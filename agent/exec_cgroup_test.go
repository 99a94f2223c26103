package agent

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"

	"github.com/arca-secrets/arca/internal/testenv"
)

// A cgroup of the same name left by an earlier agent (a crash, its pid
// now this one's) is emptied of what it held and used again; remove
// takes it away. Root only: it makes cgroups.
func TestChildCgroupReusesAStaleOne(t *testing.T) {
	testenv.RequireRoot(t, "making cgroups")
	name := "arca-exec-test-" + strconv.Itoa(os.Getpid())
	first, err := newChildCgroup(name)
	if err != nil {
		t.Fatal(err)
	}
	leftover := exec.Command("/bin/sleep", "600")
	leftover.SysProcAttr = &syscall.SysProcAttr{}
	first.place(leftover.SysProcAttr)
	if err := leftover.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- leftover.Wait() }()
	syscall.Close(first.fd) // the earlier agent dies without removing it

	again, err := newChildCgroup(name)
	if err != nil {
		t.Fatalf("a stale cgroup of the same name: %v", err)
	}
	if err := <-done; err == nil {
		t.Fatal("what the earlier agent's child left behind still ran")
	}
	if err := again.remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(again.dir); !os.IsNotExist(err) {
		t.Fatalf("the cgroup is left after remove: %v", err)
	}
}
