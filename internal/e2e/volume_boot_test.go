package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/arca-secrets/arca/internal/testenv"
)

// TestVolumeBootFiles checks the boot files in dist/: the systemd unit
// passes systemd-analyze verify, the initramfs-tools scripts parse, and
// the unlock command line each of them runs works against a real server
// and a real LUKS2 header, with -test added (device-mapper is absent here,
// so the mapping itself is not run; see TestUnlockOpenArguments).
func TestVolumeBootFiles(t *testing.T) {
	f := newVolumeFixture(t)
	disk := f.disk("disk.img", "p")
	f.arca(f.hostToken, "p\n", "bind", disk, "-name=web1").must(t, 0)
	root := filepath.Join("..", "..", "dist")

	unit, err := os.ReadFile(filepath.Join(root, "systemd", "arca-volume@.service"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	local := strings.ReplaceAll(string(unit), "/usr/local/bin/arca", arcaBin)
	if err := os.WriteFile(filepath.Join(dir, "arca-volume@.service"), []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	verify := exec.Command(testenv.Program(t, "systemd-analyze", "systemd"), "verify", "./arca-volume@data.service")
	verify.Dir = dir
	if out, err := verify.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	start := regexp.MustCompile(`(?m)^ExecStart=(\S+) (.*)$`).FindStringSubmatch(string(unit))
	if start == nil {
		t.Fatal("the unit has no ExecStart")
	}
	args := strings.NewReplacer("%i", "data", "${RETRY_FOR}", "5s", "${DEVICE}", disk).Replace(start[2])
	f.runBootLine(t, "systemd unit", args)

	for _, script := range []string{"hooks/arca", "scripts/local-top/arca"} {
		if out, err := exec.Command("sh", "-n", filepath.Join(root, "initramfs-tools", script)).CombinedOutput(); err != nil {
			t.Fatalf("%s does not parse: %v\n%s", script, err, out)
		}
	}
	top, err := os.ReadFile(filepath.Join(root, "initramfs-tools", "scripts", "local-top", "arca"))
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^if /bin/arca (.*); then$`).FindStringSubmatch(string(top))
	if line == nil {
		t.Fatal("local-top/arca runs no /bin/arca")
	}
	args = strings.NewReplacer(`"$NAME"`, "data", `"$RETRY_FOR"`, "5s", `"$DEVICE"`, disk, "-cryptsetup /sbin/cryptsetup", "-cryptsetup "+f.wrapper).Replace(line[1])
	f.runBootLine(t, "initramfs script", args)
}

// runBootLine runs "arca ARGS" with -test added after "unlock", as the
// host, and requires success.
func (f *volumeFixture) runBootLine(t *testing.T, what, args string) {
	t.Helper()
	fields := strings.Fields(args)
	if len(fields) < 2 || fields[0] != "volume" || fields[1] != "unlock" {
		t.Fatalf("%s runs %q, not arca volume unlock", what, args)
	}
	fields = append([]string{"volume", "unlock", "-test"}, fields[2:]...)
	r := arca(t, []string{"ARCA_ADDR=http://" + f.addr, "ARCA_TOKEN=" + f.hostToken}, "", fields...)
	if r.code != 0 || !strings.Contains(r.stdout, "opens keyslot 1") {
		t.Fatalf("%s: arca %v: exit %d\n%s%s", what, fields, r.code, r.stdout, r.stderr)
	}
}
