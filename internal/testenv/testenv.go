// Package testenv decides what a test does when the machine cannot give it
// what it needs: root, a cgroup, a PID namespace. A developer's run skips
// such a test and says why; a run with ARCA_TEST_REQUIRE_ALL=1 (CI sets it)
// fails it instead, so that a test which never ran cannot pass as green.
//
// Tests call these helpers instead of t.Skip whenever the reason to skip is
// the machine, not the test's own choice.
package testenv

import (
	"fmt"
	"os"
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
