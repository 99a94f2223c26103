package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCLIPolicyTokenLogin(t *testing.T) {
	p, _ := startDev(t, "root")
	home := t.TempDir()
	root := []string{"ARCA_ADDR=http://" + p.addr, "ARCA_TOKEN=root"}
	noToken := []string{"ARCA_ADDR=http://" + p.addr, "ARCA_TOKEN_PATH=" + filepath.Join(home, "tok")}

	file := filepath.Join(t.TempDir(), "app.hcl")
	if err := os.WriteFile(file, []byte("path \"secret/data/app/*\" {\ncapabilities=[\"read\",\"create\",\"update\"]\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	arca(t, root, "", "policy", "fmt", file).must(t, 0, "Formatted")
	if b, _ := os.ReadFile(file); !strings.Contains(string(b), "capabilities = [") {
		t.Fatalf("policy fmt did not format: %s", b)
	}
	arca(t, root, "", "policy", "write", "app", file).must(t, 0, "Uploaded policy: app")
	arca(t, root, `path "x" { capabilities = ["fly"] }`, "policy", "write", "bad", "-").must(t, 1, "line 1", "fly")
	arca(t, root, "", "policy", "list").must(t, 0, "app", "default", "root")
	arca(t, root, "", "policy", "read", "app").must(t, 0, "secret/data/app/*")

	created := arca(t, root, "", "token", "create", "-policy=app", "-ttl=1h", "-format=json")
	created.must(t, 0, "client_token")
	tok := between(created.stdout, `"client_token": "`, `"`)
	if tok == "" {
		t.Fatalf("no token in %s", created.stdout)
	}
	// login stores the token with mode 0600 and later commands use it.
	arca(t, noToken, "", "login", tok).must(t, 0, "Success! You are now authenticated")
	info, err := os.Stat(filepath.Join(home, "tok"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, %v; want mode 0600", info, err)
	}
	arca(t, noToken, "", "kv", "put", "secret/app/x", "a=b").must(t, 0)
	arca(t, noToken, "", "kv", "get", "secret/other").must(t, 1, "permission denied")
	arca(t, noToken, "", "token", "lookup").must(t, 0, "app", "default")
	arca(t, noToken, "", "token", "capabilities", "secret/data/app/y").must(t, 0, "create, read, update")
	arca(t, noToken, "", "token", "renew", "-increment=30m").must(t, 0, "token_duration")
	arca(t, root, "", "token", "revoke", tok).must(t, 0, "Revoked")
	arca(t, noToken, "", "token", "lookup").must(t, 1, "permission denied")
	arca(t, noToken, "", "login", "not-a-token").must(t, 1, "permission denied")
	arca(t, root, "", "token", "revoke").must(t, 2, "-self")
	arca(t, root, "", "policy", "delete", "app").must(t, 0)
	arca(t, root, "", "policy", "delete", "root").must(t, 1, "cannot be deleted")
}

func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	j := strings.Index(s, end)
	if j < 0 {
		return ""
	}
	return s[:j]
}

func TestCLILease(t *testing.T) {
	p, root := startDev(t, "root")
	enableUserpass(t, root, "1h")
	loginBob(t, root)
	loginBob(t, root)
	env := []string{"ARCA_ADDR=http://" + p.addr, "ARCA_TOKEN=root"}
	list := arca(t, env, "", "lease", "lookup", "auth/userpass/login/bob/")
	list.must(t, 0, "Keys")
	keys := strings.Fields(strings.TrimSpace(strings.SplitN(list.stdout, "----", 2)[1]))
	if len(keys) != 2 {
		t.Fatalf("lease keys: %q", list.stdout)
	}
	id := "auth/userpass/login/bob/" + keys[0]
	arca(t, env, "", "lease", "lookup", id).must(t, 0, "expire_time", "renewable")
	arca(t, env, "", "lease", "renew", "-increment=30m", id).must(t, 0, "lease_duration")
	arca(t, env, "", "lease", "revoke", id).must(t, 0, "Revoked lease")
	arca(t, env, "", "lease", "revoke", "-force", "auth").must(t, 2, "-force needs -prefix")
	arca(t, env, "", "lease", "revoke", "-prefix", "auth/userpass/login").must(t, 0, "Revoked every lease")
	arca(t, env, "", "lease", "lookup", "auth/userpass/login/bob/").must(t, 2, "No leases")
}
