package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The volume tests drive arca volume against real LUKS2 headers on files.
// Device-mapper is not available on the test machines, so no test maps a
// volume: unlock -test checks the key with cryptsetup open
// --test-passphrase, and the path that maps (cryptsetup open DEVICE NAME)
// is covered in internal/cli (TestUnlockOpenArguments) by its exact
// arguments and the key on its stdin.

// TestVolumeBindUnlockRotateRevoke is the life of a volume: bind with an
// existing passphrase, unlock -test, rotate (exactly one Arca slot, which
// opens), revoke (unlock fails saying so, and the audit log holds the
// refused attempt). The key is never in cryptsetup's argv, environment or
// any file.
func TestVolumeBindUnlockRotateRevoke(t *testing.T) {
	f := newVolumeFixture(t)
	disk := f.disk("disk.img", "first passphrase")

	f.arca(f.hostToken, "wrong passphrase\n", "bind", disk, "-name=web1").must(t, 1, "opens no keyslot")
	f.arca(f.hostToken, "first passphrase\n", "bind", disk, "-name=web1").must(t, 0, "Keyslot 1 of", "Arca volume web1")
	f.arca(f.hostToken, "first passphrase\n", "bind", disk, "-name=web1").must(t, 1, "bound to Arca already")
	h := f.header(disk)
	if len(h.Keyslots) != 2 || len(h.Tokens) != 1 {
		t.Fatalf("after bind: %d keyslots, %d tokens; want 2 and 1", len(h.Keyslots), len(h.Tokens))
	}
	var first string
	for _, tok := range h.Tokens {
		if tok.Type != "arca" || len(tok.Keyslots) != 1 || tok.Keyslots[0] != "1" || !strings.HasPrefix(tok.Wrapped, "arca:v1:") {
			t.Fatalf("token after bind: %+v", tok)
		}
		first = f.passphrase("web1", tok.Wrapped)
	}
	if len(first) != 128 || !f.cryptOK(first, "open", "--test-passphrase", "--key-slot", "1", "--key-file=-", disk) {
		t.Fatalf("the Arca passphrase (%d characters) does not open keyslot 1", len(first))
	}

	f.arca(f.hostToken, "", "unlock", disk, "-test").must(t, 0, "opens keyslot 1", "nothing mapped")
	f.arca(f.hostToken, "", "status", disk).must(t, 0, "volume                   web1", "server revoked           false")

	// Rotate on the server, then on the disk: the new passphrase is
	// wrapped by key version 2 in a new slot; the old slot is gone.
	if _, err := f.root.Logical().Write("volume/volumes/web1/rotate", nil); err != nil {
		t.Fatal(err)
	}
	f.arca(f.hostToken, "", "rotate", disk).must(t, 0, "keyslot 2 of", "keyslot 1 is wiped")
	h = f.header(disk)
	var arcaSlots []string
	var second string
	for _, tok := range h.Tokens {
		if tok.Type == "arca" {
			arcaSlots = append(arcaSlots, tok.Keyslots...)
			if !strings.HasPrefix(tok.Wrapped, "arca:v2:") {
				t.Fatalf("rotated token: %q, want key version 2", tok.Wrapped)
			}
			second = f.passphrase("web1", tok.Wrapped)
		}
	}
	if len(arcaSlots) != 1 || arcaSlots[0] != "2" || len(h.Keyslots) != 2 || h.Keyslots["1"] != nil {
		t.Fatalf("after rotate: arca slots %v, keyslots %d (slot 1 present: %v); want one Arca slot, 2, and no slot 1", arcaSlots, len(h.Keyslots), h.Keyslots["1"] != nil)
	}
	if f.cryptOK(first, "open", "--test-passphrase", "--key-file=-", disk) {
		t.Fatal("the old Arca passphrase still opens the volume after rotate")
	}
	if !f.cryptOK(second, "open", "--test-passphrase", "--key-slot", "2", "--key-file=-", disk) || !f.cryptOK("first passphrase", "open", "--test-passphrase", "--key-slot", "0", "--key-file=-", disk) {
		t.Fatal("after rotate the new Arca slot or the user's own slot does not open")
	}
	f.arca(f.hostToken, "", "unlock", disk, "-test").must(t, 0, "opens keyslot 2")
	f.noKeyAnywhere(first)
	f.noKeyAnywhere(second)
	audit, err := os.ReadFile(f.auditLog)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(audit), first) || strings.Contains(string(audit), second) {
		t.Fatal("the audit log holds a passphrase in plaintext")
	}

	// Revoke: every wrapped copy is useless, cryptsetup is never asked.
	if _, err := f.root.Logical().Write("volume/volumes/web1/revoke", nil); err != nil {
		t.Fatal(err)
	}
	before := len(readAudit(t, f.auditLog))
	runs := len(f.runs())
	f.arca(f.hostToken, "", "unlock", disk, "-test").must(t, 1, "volume web1 was revoked", "no wrapped passphrase of it can be unwrapped")
	if got := f.runs()[runs:]; len(got) != 1 || !strings.Contains(got[0].cmdline, "luksDump") {
		t.Fatalf("after revoke, cryptsetup ran %d times (want only luksDump): %+v", len(got), got)
	}
	var refused bool
	for _, e := range readAudit(t, f.auditLog)[before:] {
		if e.Type == "response" && e.Request.Path == "volume/volumes/web1/unwrap" && strings.Contains(e.Error, "was revoked") {
			refused = true
		}
	}
	if !refused {
		t.Fatal("the audit log lacks the refused unwrap after revoke")
	}
	f.arca(f.hostToken, "", "status", disk).must(t, 0, "server revoked           true")
	f.arca(f.hostToken, "", "rotate", disk).must(t, 1, "was revoked")
}

// TestVolumeFormat: format makes a volume whose only passphrase is Arca's;
// it will not format over a LUKS header without -force.
func TestVolumeFormat(t *testing.T) {
	f := newVolumeFixture(t)
	disk := f.disk("disk.img", "")
	f.arca(f.hostToken, "", "format", disk, "-name=web1").must(t, 0, "Formatted", "keyslot 0")
	h := f.header(disk)
	if len(h.Keyslots) != 1 || len(h.Tokens) != 1 {
		t.Fatalf("after format: %d keyslots, %d tokens; want 1 and 1", len(h.Keyslots), len(h.Tokens))
	}
	f.arca(f.hostToken, "", "unlock", disk, "-test").must(t, 0, "opens keyslot 0")
	f.arca(f.hostToken, "", "format", disk, "-name=web1").must(t, 1, "holds a LUKS header already")
	arca(t, []string{"ARCA_ADDR=http://" + f.addr, "ARCA_TOKEN=" + f.hostToken}, "", "volume", "list").must(t, 1, "permission denied") // the host may not list
	r := arca(t, []string{"ARCA_ADDR=http://" + f.addr, "ARCA_TOKEN=" + f.root.Token()}, "", "volume", "list", "-format=json")
	r.must(t, 0)
	var names []string
	if err := json.Unmarshal([]byte(r.stdout), &names); err != nil || len(names) != 1 || names[0] != "web1" {
		t.Fatalf("volume list: %v %q", err, r.stdout)
	}
	for _, tok := range h.Tokens {
		f.noKeyAnywhere(f.passphrase("web1", tok.Wrapped))
	}
}

// TestVolumeOtherHostRefused: a host whose policy names another volume
// cannot unlock this one, and the refusal is audited.
func TestVolumeOtherHostRefused(t *testing.T) {
	f := newVolumeFixture(t)
	disk := f.disk("disk.img", "p")
	f.arca(f.hostToken, "p\n", "bind", disk, "-name=web1").must(t, 0)
	before := len(readAudit(t, f.auditLog))
	f.arca(f.otherToken, "", "unlock", disk, "-test").must(t, 1, "permission denied")
	f.arca(f.otherToken, "p\n", "bind", f.disk("other.img", "p"), "-name=web1").must(t, 1, "permission denied")
	var denied bool
	for _, e := range readAudit(t, f.auditLog)[before:] {
		if e.Request.Path == "volume/volumes/web1/unwrap" && strings.Contains(e.Error, "permission denied") {
			denied = true
		}
	}
	if !denied {
		t.Fatal("the audit log lacks the refused unwrap")
	}
	f.arca(f.hostToken, "", "unlock", disk, "-test").must(t, 0)
}

// TestVolumeWithoutToken: a header with no arca token, and a file that is
// no LUKS volume, give clear errors.
func TestVolumeWithoutToken(t *testing.T) {
	f := newVolumeFixture(t)
	f.arca(f.hostToken, "", "unlock", f.disk("plain.img", "p"), "-test").must(t, 1, "holds no arca token", "arca volume bind")
	f.arca(f.hostToken, "", "unlock", f.disk("zeros.img", ""), "-test").must(t, 1, "not a LUKS2 volume")
	f.arca(f.hostToken, "", "unlock", f.disk("plain2.img", "p")).must(t, 2, "-name")
}

// TestVolumeTamperedToken: a token changed on the disk fails closed:
// another volume's name, an altered wrapped passphrase, another server,
// a malformed field, the keyslot of another passphrase. cryptsetup is
// asked to check a key only in the last case, and refuses it.
func TestVolumeTamperedToken(t *testing.T) {
	f := newVolumeFixture(t)
	disk := f.disk("disk.img", "p")
	f.arca(f.hostToken, "p\n", "bind", disk, "-name=web1").must(t, 0)
	// A volume web2 exists, and the root token may unwrap anything: what
	// refuses here is the wrapping's binding to its volume, not the ACL.
	if _, err := f.root.Logical().Write("volume/volumes/web2", nil); err != nil {
		t.Fatal(err)
	}
	orig := strings.TrimSpace(f.crypt("", "token", "export", "--token-id", "0", disk))
	var tok map[string]any
	if err := json.Unmarshal([]byte(orig), &tok); err != nil {
		t.Fatal(err)
	}
	wrapped := tok["arca_wrapped"].(string)
	i := len("arca:v1:") + 10 // a character of the sealed bytes
	c := "A"
	if wrapped[i] == 'A' {
		c = "B"
	}
	flipped := wrapped[:i] + c + wrapped[i+1:]
	tests := []struct {
		name, key string
		value     any
		want      string
		tested    bool // cryptsetup checks the key (and refuses it)
	}{
		{"other volume", "arca_volume", "web2", "does not open", false},
		{"altered ciphertext", "arca_wrapped", flipped, "does not open", false},
		{"other server", "arca_address", "http://192.0.2.1:8200", "names another server", false},
		{"path in the volume name", "arca_volume", "web1/../../sys", "malformed arca token", false},
		{"two keyslots", "keyslots", []string{"0", "1"}, "malformed arca token", false},
		{"keyslot of the user's passphrase", "keyslots", []string{"0"}, "opens no keyslot", true},
	}
	root := []string{"ARCA_ADDR=http://" + f.addr, "ARCA_TOKEN=" + f.root.Token()}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			changed := map[string]any{}
			for k, v := range tok {
				changed[k] = v
			}
			changed[tc.key] = tc.value
			raw, _ := json.Marshal(changed)
			runCrypt(t, f.cryptsetup, "", "token", "remove", "--token-id", "0", disk)
			runCrypt(t, f.cryptsetup, string(raw), "token", "import", "--token-id", "0", "--json-file", "-", disk)
			runs := len(f.runs())
			r := arca(t, root, "", "volume", "unlock", disk, "-test", "-cryptsetup="+f.wrapper)
			r.must(t, 1, tc.want)
			var opens int
			for _, run := range f.runs()[runs:] {
				if strings.Contains(run.cmdline, " open ") {
					opens++
					if !strings.Contains(run.cmdline, "--test-passphrase") {
						t.Fatalf("cryptsetup was asked to map the volume: %s", run.cmdline)
					}
				}
			}
			if want := map[bool]int{false: 0, true: 1}[tc.tested]; opens != want {
				t.Fatalf("cryptsetup checked a key %d times, want %d", opens, want)
			}
		})
	}
	f.crypt("", "token", "remove", "--token-id", "0", disk)
	f.crypt(orig, "token", "import", "--token-id", "0", "--json-file", "-", disk)
	f.arca(f.hostToken, "", "unlock", disk, "-test").must(t, 0)
}

// TestVolumeUnlockRetries: at boot the server may not answer yet. unlock
// -retry-for keeps asking a sealed server (503) and succeeds once it is
// unsealed; a refusal is not retried.
func TestVolumeUnlockRetries(t *testing.T) {
	f := newVolumeFixture(t)
	disk := f.disk("disk.img", "p")
	f.arca(f.hostToken, "p\n", "bind", disk, "-name=web1").must(t, 0)
	if err := f.root.Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(arcaBin, "volume", "unlock", disk, "-test", "-retry-for=60s", "-cryptsetup="+f.wrapper)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "ARCA_ADDR=http://" + f.addr, "ARCA_TOKEN=" + f.hostToken}
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	if !eventually(30*time.Second, func() bool { return strings.Contains(out.String(), "retrying in") }) {
		t.Fatalf("unlock did not report a retry against the sealed server:\n%s", out.String())
	}
	if _, err := f.root.Sys().Unseal(f.unsealKey); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil || !strings.Contains(out.String(), "opens keyslot 1") {
			t.Fatalf("unlock after unseal: %v\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("unlock did not finish after unseal:\n%s", out.String())
	}
	// A refusal ends at once, retry window or not.
	r := arca(t, []string{"ARCA_ADDR=http://" + f.addr, "ARCA_TOKEN=" + f.otherToken}, "", "volume", "unlock", disk, "-test", "-retry-for=10m", "-cryptsetup="+f.wrapper)
	r.must(t, 1, "permission denied")
	if strings.Contains(r.stderr, "retrying") {
		t.Fatalf("a refusal was retried:\n%s", r.stderr)
	}
}
