package e2e

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"
)

// startAudited starts an inmem server whose config declares a file audit
// device, initialises and unseals it, and returns a root client, the log
// path and the process.
func startAudited(t *testing.T, extra ...string) (*proc, *api.Client, string) {
	t.Helper()
	addr := freeAddr(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.log")
	block := `audit "file" "main" {
  file_path = "` + logPath + `"
}`
	conf := writeConfig(t, addr, `storage "inmem" {}`, append([]string{"disable_mlock = true", block}, extra...)...)
	p := startArca(t, addr, "-config="+conf)
	c := newClient(t, addr, "")
	initAndUnseal(t, c)
	return p, c, logPath
}

func TestAuditFileHoldsHMACsNotSecrets(t *testing.T) {
	_, c, logPath := startAudited(t)
	if err := c.Sys().Mount("secret", &api.MountInput{Type: "kv-v2"}); err != nil {
		t.Fatal(err)
	}
	const secret = "audit-me-not-4242"
	if _, err := c.KVv2("secret").Put(t.Context(), "app", map[string]any{"password": secret}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.Auth().Token().Create(&api.TokenCreateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"secret value": secret, "root token": c.Token(), "created token": tok.Auth.ClientToken} {
		if bytes.Contains(raw, []byte(v)) {
			t.Errorf("the audit log holds the %s in plaintext", name)
		}
	}
	h, err := c.Logical().Write("sys/audit-hash/main", map[string]any{"input": secret})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(h.Data["hash"].(string))) {
		t.Fatal("the log lacks the HMAC that sys/audit-hash gives for the secret")
	}
	if !bytes.Contains(raw, []byte(`"path":"secret/data/app"`)) || !bytes.Contains(raw, []byte(`"remote_address":"127.0.0.1"`)) {
		t.Fatalf("the log lacks the path or the client address:\n%s", raw)
	}
	if fi, _ := os.Stat(logPath); fi.Mode().Perm() != 0o600 {
		t.Fatalf("audit file mode %v, want 0600", fi.Mode().Perm())
	}
	// The device from the config file is listed and cannot be disabled
	// through the API.
	list, err := c.Sys().ListAudit()
	if err != nil || list["main/"] == nil {
		t.Fatalf("audit list: %v, %v", list, err)
	}
	if err := c.Sys().DisableAudit("main"); statusOf(err) != 400 {
		t.Fatalf("disabling a config device: got %v, want 400", err)
	}

	// arca audit verify: intact, then edited, deleted and reordered lines.
	arca(t, nil, "", "audit", "verify", logPath).must(t, 0, "chain intact")
	lines := strings.SplitAfter(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) < 4 {
		t.Fatalf("only %d audit lines", len(lines))
	}
	tamper := map[string]string{
		"edited":    lines[0] + strings.Replace(lines[1], `"time":"2`, `"time":"3`, 1) + strings.Join(lines[2:], ""),
		"deleted":   lines[0] + strings.Join(lines[2:], ""),
		"reordered": lines[1] + lines[0] + strings.Join(lines[2:], ""),
	}
	for name, text := range tamper {
		bad := filepath.Join(t.TempDir(), name+".log")
		if err := os.WriteFile(bad, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		arca(t, nil, "", "audit", "verify", bad).must(t, 1, "FAILED", "line 2")
	}
}

// TestAuditFailsClosed: with the only audit device unable to write,
// requests are refused with a reason instead of served unrecorded.
func TestAuditFailsClosed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	addr := freeAddr(t)
	conf := writeConfig(t, addr, `storage "inmem" {}`, "disable_mlock = true", `audit "socket" "net" {
  address = "`+dead+`"
  socket_type = "tcp"
}`)
	startArca(t, addr, "-config="+conf)
	c := newClient(t, addr, "")
	initAndUnseal(t, c)
	_, err = c.Logical().Read("cubbyhole/x")
	if statusOf(err) != 500 || !strings.Contains(err.Error(), "could not be recorded") {
		t.Fatalf("request with a dead audit device: got %v, want 500 saying it could not be recorded", err)
	}
	if _, err := c.Auth().Token().Create(&api.TokenCreateRequest{}); statusOf(err) != 500 {
		t.Fatalf("token create with a dead audit device: got %v, want 500", err)
	}
}

// TestAuditAPIRestricted: outside dev mode, sys/audit enables only file
// devices under the directories the config names, and never over a file
// that is not an audit log.
func TestAuditAPIRestricted(t *testing.T) {
	allowed := t.TempDir()
	_, c, _ := startAudited(t, `audit_api_file_dirs = ["`+allowed+`"]`)
	outside := filepath.Join(t.TempDir(), "x.log")
	for name, opts := range map[string]*api.EnableAuditOptions{
		"outside the allowed dirs": {Type: "file", Options: map[string]string{"file_path": outside}},
		"traversal":                {Type: "file", Options: map[string]string{"file_path": allowed + "/../evil.log"}},
		"socket through the API":   {Type: "socket", Options: map[string]string{"address": "127.0.0.1:9"}},
	} {
		if err := c.Sys().EnableAuditWithOptions("x", opts); statusOf(err) != 403 && statusOf(err) != 400 {
			t.Errorf("%s: got %v, want 403 or 400", name, err)
		}
	}
	plugin := filepath.Join(allowed, "plugin.so")
	if err := os.WriteFile(plugin, []byte("\x7fELF"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().EnableAuditWithOptions("x", &api.EnableAuditOptions{Type: "file", Options: map[string]string{"file_path": plugin}}); err == nil {
		t.Fatal("enabled an audit device over an existing non-audit file")
	}
	if b, _ := os.ReadFile(plugin); string(b) != "\x7fELF" {
		t.Fatal("the existing file was changed")
	}
	good := filepath.Join(allowed, "api.log")
	if err := c.Sys().EnableAuditWithOptions("api", &api.EnableAuditOptions{Type: "file", Options: map[string]string{"file_path": good}}); err != nil {
		t.Fatalf("allowed API enable: %v", err)
	}
	if _, err := c.Auth().Token().LookupSelf(); err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile(good); !bytes.Contains(raw, []byte("auth/token/lookup-self")) {
		t.Fatal("the API-enabled device recorded nothing")
	}
	if err := c.Sys().DisableAudit("api"); err != nil {
		t.Fatal(err)
	}
}

// TestAuditReopenOnSIGHUP: after the log is moved away (rotation) and the
// server gets SIGHUP, it writes a new file at the configured path.
func TestAuditReopenOnSIGHUP(t *testing.T) {
	p, c, logPath := startAudited(t)
	if _, err := c.Auth().Token().LookupSelf(); err != nil {
		t.Fatal(err)
	}
	rotated := logPath + ".1"
	if err := os.Rename(logPath, rotated); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The server reopens the file on SIGHUP at its own pace: a request
	// audited after that lands in a new file at logPath.
	if !eventually(10*time.Second, func() bool {
		if _, err := c.Auth().Token().LookupSelf(); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(logPath)
		return err == nil && bytes.Contains(raw, []byte("lookup-self"))
	}) {
		t.Fatalf("no new audit file after SIGHUP:\n%s", p.output())
	}
	arca(t, nil, "", "audit", "verify", rotated).must(t, 0, "chain intact")
	arca(t, nil, "", "audit", "verify", logPath).must(t, 0, "chain intact")
}
