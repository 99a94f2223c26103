package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// templateAgent is an agent whose own policy ("agent") may also read
// secret/data/app, the secret its templates render; extra is its
// template, template_config, exec and env_template blocks.
func templateAgent(t *testing.T, extra string) *agentFixture {
	t.Helper()
	p, root := startDev(t, "root")
	f := prepareAgent(t, p, root)
	if err := root.Sys().PutPolicy("agent", `path "auth/workload/login" { capabilities = ["update"] }
path "secret/data/app" { capabilities = ["read"] }
path "secret/metadata/*" { capabilities = ["list"] }`); err != nil {
		t.Fatal(err)
	}
	f.writeAppRoleConfig(extra)
	return f
}

func (f *agentFixture) putApp(t *testing.T, data map[string]any) {
	t.Helper()
	if _, err := f.root.Logical().Write("secret/data/app", map[string]any{"data": data}); err != nil {
		t.Fatal(err)
	}
}

// waitFile waits until path holds want.
func (f *agentFixture) waitFile(t *testing.T, path, want string) {
	t.Helper()
	agentEventually(t, 20*time.Second, func() (bool, string) {
		b, err := os.ReadFile(path)
		return err == nil && string(b) == want, fmt.Sprintf("%s holds %q (%v), want %q\nagent:\n%s", path, b, err, want, f.output())
	})
}

// waitLog waits until the agent's output holds s at least n times.
func (f *agentFixture) waitLog(t *testing.T, s string, n int) {
	t.Helper()
	agentEventually(t, 20*time.Second, func() (bool, string) {
		return strings.Count(f.output(), s) >= n, fmt.Sprintf("the agent did not log %q %d times:\n%s", s, n, f.output())
	})
}

// A KV value is rendered into a file with mode 0640; when the value
// changes, the file is rewritten and its command runs, once per change.
func TestAgentTemplateRendersKV(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	dest, runs, keys := filepath.Join(dir, "app.conf"), filepath.Join(dir, "runs"), filepath.Join(dir, "keys.json")
	f := templateAgent(t, fmt.Sprintf(`
template_config { static_secret_render_interval = "1s" }
template {
  contents    = "password = {{ with secret \"secret/data/app\" }}{{ .Data.data.password }}{{ end }}\n"
  destination = %q
  perms       = "0640"
  command     = "cat %s >> %s"
}
template {
  contents    = "{{ toJSON (secrets \"secret/metadata/\") }}"
  destination = %q
}`, dest, dest, runs, keys))
	f.logLevel = "debug"
	f.start()

	f.waitFile(t, dest, "password = s3cret-for-app\n")
	fi, err := os.Stat(dest)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode: got %o, want 640", fi.Mode().Perm())
	}
	f.waitFile(t, runs, "password = s3cret-for-app\n")
	f.waitFile(t, keys, `["app"]`)
	if _, err := f.root.Logical().Write("secret/data/other", map[string]any{"data": map[string]any{"x": "y"}}); err != nil {
		t.Fatal(err)
	}
	f.waitFile(t, keys, `["app","other"]`)

	f.putApp(t, map[string]any{"password": "rotated"})
	f.waitFile(t, dest, "password = rotated\n")
	f.waitFile(t, runs, "password = s3cret-for-app\npassword = rotated\n")
	// Two more renders that change nothing run nothing.
	unchanged := `msg="template unchanged" destination=` + dest
	n := strings.Count(f.output(), unchanged)
	f.waitLog(t, unchanged, n+2)
	if b, _ := os.ReadFile(runs); string(b) != "password = s3cret-for-app\npassword = rotated\n" {
		t.Errorf("the command's runs: got %q, want one per change", b)
	}
	if strings.Contains(f.output(), "rotated") || strings.Contains(f.output(), "s3cret-for-app") {
		t.Errorf("the agent logged a secret:\n%s", f.output())
	}
}

// A template that fails (a key it needs is gone) keeps the last good
// file, and the agent says why without showing a secret; it renders
// again once the key is back.
func TestAgentTemplateFailureKeepsLastGoodFile(t *testing.T) {
	requireRoot(t)
	dest := filepath.Join(t.TempDir(), "app.conf")
	f := templateAgent(t, fmt.Sprintf(`
template_config { static_secret_render_interval = "1s" }
template {
  contents    = "{{ with secret \"secret/data/app\" }}{{ .Data.data.password }}{{ end }}"
  destination = %q
  error_on_missing_key = true
}`, dest))
	f.start()
	f.waitFile(t, dest, "s3cret-for-app")

	f.putApp(t, map[string]any{"user": "not-a-secret-but-not-logged"})
	f.waitLog(t, "template failed; the last good output stays", 1)
	if b, _ := os.ReadFile(dest); string(b) != "s3cret-for-app" {
		t.Errorf("after a failed render the file holds %q, want the last good output", b)
	}
	out := f.output()
	if !strings.Contains(out, `map has no entry for key \"password\"`) {
		t.Errorf("the agent did not say which key is missing:\n%s", out)
	}
	if strings.Contains(out, "not-a-secret-but-not-logged") || strings.Contains(out, "s3cret-for-app") {
		t.Errorf("the agent logged a secret's value:\n%s", out)
	}
	f.putApp(t, map[string]any{"password": "back"})
	f.waitFile(t, dest, "back")
}

// The exec child runs as its user with its secret in its environment,
// and is restarted (a new process, the old one gone) when the secret
// changes.
func TestAgentExecRestartsOnChange(t *testing.T) {
	requireRoot(t)
	uid, gid := testUser(t, "arca-wl-exec")
	// A directory the child's user can reach (t.TempDir's parent is
	// root's alone).
	dir, err := os.MkdirTemp("", "arca-exec-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(out, int(uid), int(gid)); err != nil {
		t.Fatal(err)
	}
	seen := filepath.Join(out, "seen")
	f := templateAgent(t, fmt.Sprintf(`
template_config { static_secret_render_interval = "1s" }
env_template "APP_PASSWORD" {
  contents = "{{ with secret \"secret/data/app\" }}{{ .Data.data.password }}{{ end }}"
}
exec {
  command = ["/bin/sh", "-c", "echo \"$$ $APP_PASSWORD\" >> %s; exec sleep 600"]
  user = "arca-wl-exec"
  restart_stop_timeout = "5s"
}`, seen))
	// The child's secrets are its own role's: the shell it runs as
	// arca-wl-exec.
	if _, err := f.root.Logical().Write("auth/workload/role/exec-child", map[string]any{
		"bound_uids": []string{fmt.Sprint(uid)}, "bound_exe_paths": []string{"/usr/bin/dash"}, "token_policies": "app", "token_ttl": "10m",
	}); err != nil {
		t.Fatal(err)
	}
	f.start()
	lines := func(n int) []string {
		t.Helper()
		var got []string
		agentEventually(t, 20*time.Second, func() (bool, string) {
			b, _ := os.ReadFile(seen)
			got = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			return len(b) > 0 && len(got) >= n, fmt.Sprintf("the child wrote %q, want %d lines\nagent:\n%s", b, n, f.output())
		})
		return got
	}
	first := strings.Fields(lines(1)[0])
	if len(first) != 2 || first[1] != "s3cret-for-app" {
		t.Fatalf("the child saw %q, want its pid and the password", first)
	}
	fi, err := os.Stat(seen)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid {
		t.Errorf("the child ran as uid %d, want %d", st.Uid, uid)
	}

	f.putApp(t, map[string]any{"password": "rotated"})
	all := lines(2)
	second := strings.Fields(all[1])
	if len(all) != 2 || len(second) != 2 || second[1] != "rotated" || second[0] == first[0] {
		t.Fatalf("after the change the child wrote %q, want one new process that sees the new password", all)
	}
	if _, err := os.Stat("/proc/" + first[0]); !os.IsNotExist(err) {
		t.Errorf("the first child (pid %s) is still there: %v", first[0], err)
	}
}

// In exec mode the agent exits with its child's exit code.
func TestAgentExecExitCode(t *testing.T) {
	requireRoot(t)
	f := templateAgent(t, `exec { command = ["/bin/sh", "-c", "exit 7"] }`)
	cmd := exec.Command(arcaBin, "agent", "-config", f.conf)
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 7 {
		t.Fatalf("the agent exited with %d (%v), want the child's 7:\n%s", code, err, out)
	}
}

// Database credentials from a real PostgreSQL rendered into a file: the
// lease is renewed while the template lives, and before its max TTL
// ends new credentials are issued, the file re-rendered and its command
// run, while the old user still exists.
func TestAgentTemplateDatabaseCreds(t *testing.T) {
	requireRoot(t)
	db := newDBFixture(t)
	db.write(t, "database/roles/short", map[string]any{
		"db_name":             "pg",
		"creation_statements": []string{`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`},
		"default_ttl":         "6s",
		"max_ttl":             "11s",
	})
	f := prepareAgent(t, db.proc, db.root)
	if err := db.root.Sys().PutPolicy("agent", `path "auth/workload/login" { capabilities = ["update"] }
path "database/creds/short" { capabilities = ["read"] }
path "sys/leases/renew" { capabilities = ["update"] }`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dest, runs := filepath.Join(dir, "db.conf"), filepath.Join(dir, "runs")
	f.writeAppRoleConfig(fmt.Sprintf(`
template {
  contents    = "{{ with secret \"database/creds/short\" }}{{ .LeaseID }} {{ .Data.username }}{{ end }}"
  destination = %q
  perms       = "0600"
  command     = "echo ran >> %s"
}`, dest, runs))
	f.start()

	read := func() (lease, user string) {
		b, _ := os.ReadFile(dest)
		lease, user, _ = strings.Cut(string(b), " ")
		return lease, user
	}
	var lease1, user1 string
	agentEventually(t, 20*time.Second, func() (bool, string) {
		lease1, user1 = read()
		return user1 != "", fmt.Sprintf("no credentials rendered\nagent:\n%s", f.output())
	})
	if !db.roleExists(t, user1) {
		t.Fatalf("the rendered user %s does not exist", user1)
	}
	var user2 string
	agentEventually(t, 30*time.Second, func() (bool, string) {
		_, user2 = read()
		return user2 != user1, fmt.Sprintf("still %s\nagent:\n%s", user1, f.output())
	})
	// New credentials came before the old ones' max TTL: the old lease
	// was renewed, and still lives.
	s, err := db.root.Logical().Write("sys/leases/lookup", map[string]any{"lease_id": lease1})
	if err != nil {
		t.Fatalf("the first lease is gone when its successor is rendered (too late): %v", err)
	}
	if s.Data["last_renewal_time"] == nil {
		t.Errorf("the first lease was never renewed: %v", s.Data)
	}
	if !db.roleExists(t, user2) {
		t.Errorf("the new user %s does not exist", user2)
	}
	if b, _ := os.ReadFile(runs); string(b) != "ran\nran\n" {
		t.Errorf("the command's runs: got %q, want one per change", b)
	}
}
