package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestRequireAll(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value string
		want  bool
	}{
		{"unset", "", false},
		{"zero", "0", false},
		{"false", "false", false},
		{"one", "1", true},
		{"true", "true", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvRequireAll, tc.value)
			if got := RequireAll(); got != tc.want {
				t.Errorf("RequireAll() with %s=%q = %v, want %v", EnvRequireAll, tc.value, got, tc.want)
			}
		})
	}
}

// TestUnavailable runs a test that calls Unavailable in a child process of
// this test binary, once without and once with the variable, and reads the
// verdict from its output.
func TestUnavailable(t *testing.T) {
	if os.Getenv("ARCA_TESTENV_CHILD") == "1" {
		Unavailable(t, "no widget on this machine")
		t.Fatal("Unavailable returned")
	}
	for _, tc := range []struct {
		name     string
		value    string
		wantFail bool
		wantOut  string
	}{
		{"skips by default", "", false, "--- SKIP: TestUnavailable"},
		{"fails when all is required", "1", true, "--- FAIL: TestUnavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestUnavailable$", "-test.v")
			cmd.Env = append(os.Environ(), "ARCA_TESTENV_CHILD=1", EnvRequireAll+"="+tc.value)
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tc.wantFail {
				t.Errorf("child failed = %v, want %v\n%s", failed, tc.wantFail, out)
			}
			if !strings.Contains(string(out), tc.wantOut) || !strings.Contains(string(out), "no widget on this machine") {
				t.Errorf("child output lacks %q and the reason:\n%s", tc.wantOut, out)
			}
		})
	}
}

func TestProgram(t *testing.T) {
	if os.Getenv("ARCA_TESTENV_CHILD") == "program" {
		Program(t, "arca-no-such-program", "arca-no-such-package")
		t.Fatal("Program returned for a missing program")
	}
	if got := Program(t, "sh", "dash"); got == "" {
		t.Fatal("Program(sh) returned nothing")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestProgram$", "-test.v")
	cmd.Env = append(os.Environ(), "ARCA_TESTENV_CHILD=program")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("a missing program did not fail the test:\n%s", out)
	}
	for _, want := range []string{"--- FAIL: TestProgram", "./scripts/test", "apt-get install arca-no-such-package"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("child output lacks %q:\n%s", want, out)
		}
	}
}
