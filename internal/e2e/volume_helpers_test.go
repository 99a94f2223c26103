package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arca-secrets/arca/internal/testenv"
	"github.com/openbao/openbao/api/v2"
)

// volumeFixture is a server with the volume engine at volume/ and a file
// audit log, a host token allowed to use volume web1 only, and a
// cryptsetup wrapper that records how each run was started.
type volumeFixture struct {
	t          *testing.T
	server     *proc
	unsealKey  string
	root       *api.Client
	addr       string
	auditLog   string
	cryptsetup string // the real program
	wrapper    string // records, then execs the real program
	runLog     string
	dir        string
	hostToken  string // policy: volume web1 only
	otherToken string // policy: volume web2 only
}

const volumeHostPolicy = `
path "volume/volumes/%s" { capabilities = ["create", "update", "read"] }
path "volume/volumes/%s/*" { capabilities = ["update"] }
`

func newVolumeFixture(t *testing.T) *volumeFixture {
	t.Helper()
	f := &volumeFixture{t: t, dir: t.TempDir()}
	f.cryptsetup = testenv.Program(t, "cryptsetup", "cryptsetup-bin")
	addr := freeAddr(t)
	f.auditLog = filepath.Join(t.TempDir(), "audit.log")
	conf := writeConfig(t, addr, `storage "inmem" {}`, "disable_mlock = true", `audit "file" "main" {
  file_path = "`+f.auditLog+`"
}`)
	f.server = startArca(t, addr, "-config="+conf)
	f.root = newClient(t, addr, "")
	f.unsealKey = initAndUnseal(t, f.root).Keys[0]
	f.addr = strings.TrimPrefix(f.root.Address(), "http://")
	if err := f.root.Sys().Mount("volume", &api.MountInput{Type: "volume"}); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"web1", "web2"} {
		putPolicy(t, f.root, "host-"+host, strings.ReplaceAll(volumeHostPolicy, "%s", host))
	}
	f.hostToken = childToken(t, f.root, "host-web1")
	f.otherToken = childToken(t, f.root, "host-web2")
	// The wrapper writes down the argv, environment and the files behind
	// fd 0 and fd 3 of its own process, which exec then hands unchanged to
	// cryptsetup: /proc/PID/cmdline and environ of the cryptsetup child.
	f.runLog = filepath.Join(f.dir, "runs.log")
	f.wrapper = filepath.Join(f.dir, "cryptsetup-wrapper")
	script := `#!/bin/sh
{
	printf 'cmdline='; tr '\0' ' ' < /proc/$$/cmdline; echo
	printf 'environ='; tr '\0' ' ' < /proc/$$/environ; echo
	printf 'fd0='; readlink /proc/$$/fd/0 || echo none
	printf 'fd3='; readlink /proc/$$/fd/3 || echo none
	echo ---
} >> '` + f.runLog + `' 2>/dev/null
exec '` + f.cryptsetup + `' "$@"
`
	if err := os.WriteFile(f.wrapper, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return f
}

// cryptRun is one recorded start of cryptsetup.
type cryptRun struct{ cmdline, environ, fd0, fd3 string }

func (f *volumeFixture) runs() []cryptRun {
	f.t.Helper()
	raw, err := os.ReadFile(f.runLog)
	if err != nil && !os.IsNotExist(err) {
		f.t.Fatal(err)
	}
	var out []cryptRun
	for _, block := range strings.Split(string(raw), "---\n") {
		if strings.TrimSpace(block) == "" {
			continue
		}
		var r cryptRun
		for _, line := range strings.Split(block, "\n") {
			k, v, _ := strings.Cut(line, "=")
			switch k {
			case "cmdline":
				r.cmdline = v
			case "environ":
				r.environ = v
			case "fd0":
				r.fd0 = v
			case "fd3":
				r.fd3 = v
			}
		}
		out = append(out, r)
	}
	return out
}

// disk returns a new 32 MiB file, a LUKS2 volume with passphrase (fast
// PBKDF) when passphrase is not empty, or zeros.
func (f *volumeFixture) disk(name, passphrase string) string {
	f.t.Helper()
	path := filepath.Join(f.dir, name)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Truncate(path, 32<<20); err != nil {
		f.t.Fatal(err)
	}
	if passphrase != "" {
		f.crypt(passphrase, "luksFormat", "--type", "luks2", "--batch-mode", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", "--key-file=-", path)
	}
	return path
}

// crypt runs the real cryptsetup with stdin and returns its output.
func (f *volumeFixture) crypt(stdin string, args ...string) string {
	f.t.Helper()
	return runCrypt(f.t, f.cryptsetup, stdin, args...)
}

func runCrypt(t *testing.T, cryptsetup, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(cryptsetup, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cryptsetup %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// cryptOK reports whether cryptsetup succeeds.
func (f *volumeFixture) cryptOK(stdin string, args ...string) bool {
	cmd := exec.Command(f.cryptsetup, args...)
	cmd.Stdin = strings.NewReader(stdin)
	return cmd.Run() == nil
}

// arca runs the CLI as the host (token tok), with the wrapper as
// cryptsetup and the fast PBKDF for new keyslots where a command takes it.
func (f *volumeFixture) arca(tok, stdin string, args ...string) cliResult {
	f.t.Helper()
	full := append([]string{"volume"}, args...)
	full = append(full, "-cryptsetup="+f.wrapper)
	switch args[0] {
	case "format", "bind", "rotate":
		full = append(full, "-pbkdf=pbkdf2", "-pbkdf-iterations=1000")
	}
	return arca(f.t, []string{"ARCA_ADDR=http://" + f.addr, "ARCA_TOKEN=" + tok}, stdin, full...)
}

// luksHeader is what the tests read of a header's JSON metadata.
type luksHeader struct {
	Keyslots map[string]json.RawMessage `json:"keyslots"`
	Tokens   map[string]struct {
		Type     string   `json:"type"`
		Keyslots []string `json:"keyslots"`
		Wrapped  string   `json:"arca_wrapped"`
	} `json:"tokens"`
}

func (f *volumeFixture) header(path string) luksHeader {
	f.t.Helper()
	var h luksHeader
	if err := json.Unmarshal([]byte(f.crypt("", "luksDump", "--dump-json-metadata", path)), &h); err != nil {
		f.t.Fatal(err)
	}
	return h
}

// passphrase returns the passphrase inside wrapped, asked as root.
func (f *volumeFixture) passphrase(volume, wrapped string) string {
	f.t.Helper()
	s, err := f.root.Logical().Write("volume/volumes/"+volume+"/unwrap", map[string]any{"wrapped": wrapped})
	if err != nil {
		f.t.Fatal(err)
	}
	return s.Data["passphrase"].(string)
}

// noKeyAnywhere checks that pass is in no recorded argv or environment and
// in no file of the test's directory (the disk images included), and that
// every run that was given a key read it from a pipe.
func (f *volumeFixture) noKeyAnywhere(pass string) {
	f.t.Helper()
	runs := f.runs()
	if len(runs) == 0 {
		f.t.Fatal("the wrapper recorded no run of cryptsetup")
	}
	for _, r := range runs {
		if strings.Contains(r.cmdline, pass) || strings.Contains(r.environ, pass) {
			f.t.Fatalf("the passphrase is in cryptsetup's command line or environment: %q", r.cmdline)
		}
		if strings.Contains(r.cmdline, "--key-file=-") && !strings.HasPrefix(r.fd0, "pipe:") {
			f.t.Fatalf("cryptsetup read its key from %s, not a pipe: %s", r.fd0, r.cmdline)
		}
		if strings.Contains(r.cmdline, "/dev/fd/3") && !strings.HasPrefix(r.fd3, "pipe:") {
			f.t.Fatalf("cryptsetup read its second key from %s, not a pipe: %s", r.fd3, r.cmdline)
		}
	}
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(f.dir, e.Name()))
		if err != nil {
			f.t.Fatal(err)
		}
		if bytes.Contains(raw, []byte(pass)) {
			f.t.Fatalf("the passphrase is in the file %s", e.Name())
		}
	}
}
