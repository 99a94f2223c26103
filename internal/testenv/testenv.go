// Package testenv decides what a test does when the machine cannot give it
// what it needs: root, a cgroup, a PID namespace. A developer's run skips
// such a test and says why; a run with ARCA_TEST_REQUIRE_ALL=1 (CI sets it)
// fails it instead, so that a test which never ran cannot pass as green.
//
// Tests call these helpers instead of t.Skip whenever the reason to skip is
// the machine, not the test's own choice. A missing program is different:
// scripts/test installs every program the tests run, so Program fails the
// test and says what to install.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// EnvRequireAll names the variable that turns skips for a missing
// privilege or facility into failures.
const EnvRequireAll = "ARCA_TEST_REQUIRE_ALL"

// RequireAll reports whether skips for the machine's sake are failures.
func RequireAll() bool {
	switch os.Getenv(EnvRequireAll) {
	case "", "0", "false":
		return false
	}
	return true
}

// Unavailable ends the test because the machine lacks something it needs:
// a skip normally, a failure under ARCA_TEST_REQUIRE_ALL. The message says
// what is missing.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if RequireAll() {
		t.Fatalf("%s (failing instead of skipping: %s is set)", msg, EnvRequireAll)
	}
	t.Skip(msg)
}

// RequireRoot ends the test through Unavailable unless it runs as root;
// why says what the test does that needs root.
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "needs root: %s", why)
	}
}

// Program returns the path of a program the test runs, looked up in PATH
// and then in /usr/sbin and /sbin (which a user's PATH may lack). A missing
// program is part of the test set-up, not a reason to skip: the test fails
// and names the Debian/Ubuntu package that holds it and ./scripts/test,
// which installs it.
func Program(t testing.TB, name, debianPackage string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	t.Fatalf("this test runs %s, which is not installed: run ./scripts/test, which installs what the tests need, or apt-get install %s", name, debianPackage)
	return ""
}
