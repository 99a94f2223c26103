package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cliResult is what one run of the arca CLI printed.
type cliResult struct {
	code           int
	stdout, stderr string
}

// arca runs the CLI with the given environment (and nothing inherited that
// could point it elsewhere) and optional stdin.
func arca(t *testing.T, envv []string, stdin string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(arcaBin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, envv...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return cliResult{code, out.String(), errb.String()}
}

func (r cliResult) must(t *testing.T, wantCode int, wantOut ...string) {
	t.Helper()
	if r.code != wantCode {
		t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.code, wantCode, r.stdout, r.stderr)
	}
	for _, w := range wantOut {
		if !strings.Contains(r.stdout+r.stderr, w) {
			t.Fatalf("output lacks %q\nstdout: %s\nstderr: %s", w, r.stdout, r.stderr)
		}
	}
}

// TestCLIOperatorLifecycle drives init, unseal (keys on stdin, the
// non-terminal path of the no-echo prompt), status exit codes, seal,
// rotate, key-status and rekey through the CLI against a real server.
func TestCLIOperatorLifecycle(t *testing.T) {
	addr := freeAddr(t)
	dbPath := filepath.Join(t.TempDir(), "arca.db")
	conf := writeConfig(t, addr, `storage "bolt" { path = "`+dbPath+`" }`, "disable_mlock = true")
	startArca(t, addr, "-config="+conf)
	env := []string{"ARCA_ADDR=http://" + addr}

	arca(t, env, "", "status").must(t, 2, "Sealed", "false") // not initialised: sealed
	init := arca(t, env, "", "operator", "init", "-key-shares=3", "-key-threshold=2", "-format=json")
	init.must(t, 0)
	var out struct {
		Keys      []string `json:"unseal_keys_b64"`
		RootToken string   `json:"root_token"`
	}
	if err := json.Unmarshal([]byte(init.stdout), &out); err != nil || len(out.Keys) != 3 || out.RootToken == "" {
		t.Fatalf("init json: %v %s", err, init.stdout)
	}
	arca(t, env, out.Keys[0]+"\n", "operator", "unseal").must(t, 0, "Unseal Progress", "1/2")
	arca(t, env, "", "status").must(t, 2, "Sealed")
	arca(t, env, "", "operator", "unseal", out.Keys[1]).must(t, 0)
	arca(t, env, "", "status").must(t, 0, "Initialized")
	arca(t, env, "", "operator", "unseal", out.Keys[2]).must(t, 0, "Sealed") // unsealed already: no-op
	arca(t, env, "", "operator", "unseal", "zz-not-a-key").must(t, 1, "not hex or base64")

	root := append(env, "ARCA_TOKEN="+out.RootToken)
	arca(t, root, "", "operator", "key-status").must(t, 0, "Key Term", "1")
	arca(t, root, "", "operator", "rotate").must(t, 0, "Success! Rotated key", "Key Term            2")

	// Rekey to 2 shares, threshold 2.
	arca(t, root, "", "operator", "rekey", "-init", "-key-shares=2", "-key-threshold=2").must(t, 0, "Nonce")
	arca(t, root, "", "operator", "rekey", out.Keys[2]).must(t, 0, "Rekey Progress", "1/2")
	done := arca(t, root, out.Keys[0]+"\n", "operator", "rekey")
	done.must(t, 0, "Key 1:", "Key 2:")
	var newKeys []string
	for _, line := range strings.Split(done.stdout, "\n") {
		if k, ok := strings.CutPrefix(line, "Key "); ok {
			newKeys = append(newKeys, strings.TrimSpace(k[strings.Index(k, ":")+1:]))
		}
	}
	if len(newKeys) != 2 {
		t.Fatalf("new keys: %q", done.stdout)
	}
	arca(t, root, "", "operator", "seal").must(t, 0, "sealed")
	arca(t, env, "", "status").must(t, 2)
	arca(t, env, "", "operator", "unseal", out.Keys[0]).must(t, 0)
	arca(t, env, "", "operator", "unseal", out.Keys[1]).must(t, 1, "reset")
	arca(t, env, "", "operator", "unseal", newKeys[0]).must(t, 0)
	arca(t, env, "", "operator", "unseal", newKeys[1]).must(t, 0)
	arca(t, env, "", "status").must(t, 0)

	// The server's error reaches the user with exit code 1.
	arca(t, root, "", "operator", "init").must(t, 1, "already initialized")
	// No server at all: exit code 1 for status.
	arca(t, []string{"ARCA_ADDR=http://" + freeAddr(t)}, "", "status").must(t, 1, "Error")
}

func TestCLIKVAndSecrets(t *testing.T) {
	p, _ := startDev(t, "cli-root")
	env := []string{"ARCA_ADDR=http://" + p.addr, "ARCA_TOKEN=cli-root"}
	run := func(stdin string, args ...string) cliResult { return arca(t, env, stdin, args...) }

	run("", "kv", "put", "secret/app", "db_password=s3cr3t", "user=app").must(t, 0, "version", "1")
	run("", "kv", "get", "secret/app").must(t, 0, "Data", "db_password", "s3cr3t")
	if r := run("", "kv", "get", "-field=db_password", "secret/app"); r.code != 0 || r.stdout != "s3cr3t" {
		t.Fatalf("-field: got %q (code %d), want exactly s3cr3t", r.stdout, r.code)
	}
	run("", "kv", "put", "-cas=0", "secret/app", "x=1").must(t, 1, "check-and-set")
	run("", "kv", "put", "-cas=1", "secret/app", "db_password=two").must(t, 0)
	run("", "kv", "patch", "secret/app", "user=svc").must(t, 0, "3")
	run("", "kv", "get", "-version=1", "-field=db_password", "secret/app").must(t, 0, "s3cr3t")
	run("", "kv", "get", "-version=9", "secret/app").must(t, 2)
	// Values from stdin and from a file.
	f := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(f, []byte("-----BEGIN X-----"), 0o600); err != nil {
		t.Fatal(err)
	}
	run("from-stdin\n", "kv", "put", "secret/files", "a=-", "b=@"+f).must(t, 0)
	run("", "kv", "get", "-field=a", "secret/files").must(t, 0, "from-stdin")
	run("", "kv", "get", "-field=b", "secret/files").must(t, 0, "-----BEGIN X-----")
	run(`{"k":"json"}`, "kv", "put", "-mount=secret", "team/db", "-").must(t, 0)
	run("", "kv", "get", "-format=json", "secret/team/db").must(t, 0, `"k": "json"`)
	run("", "kv", "list", "secret/").must(t, 0, "app", "files", "team/")

	run("", "kv", "delete", "secret/app").must(t, 0, "Success")
	run("", "kv", "get", "secret/app").must(t, 2, "deleted")
	run("", "kv", "undelete", "-versions=3", "secret/app").must(t, 0)
	run("", "kv", "get", "-field=user", "secret/app").must(t, 0, "svc")
	run("", "kv", "destroy", "-versions=1", "secret/app").must(t, 0)
	run("", "kv", "metadata", "put", "-max-versions=5", "-custom-metadata=owner=ops", "secret/app").must(t, 0)
	run("", "kv", "metadata", "get", "secret/app").must(t, 0, "max_versions", "5", "owner", "Version 1", "destroyed")
	run("", "kv", "metadata", "delete", "secret/app").must(t, 0)
	run("", "kv", "get", "secret/app").must(t, 2)

	// Engines and KV v1.
	run("", "secrets", "enable", "-path=kv1", "kv").must(t, 0, "Enabled the kv secrets engine at: kv1/")
	run("", "secrets", "enable", "-path=kv2", "-version=2", "kv").must(t, 0)
	run("", "secrets", "list").must(t, 0, "kv1/", "kv2/", "secret/", "sys/")
	run("", "secrets", "list", "-detailed", "-format=json").must(t, 0, `"version": "2"`)
	run("", "kv", "put", "kv1/a", "b=c").must(t, 0, "Success! Data written to: kv1/a")
	run("", "kv", "get", "-field=b", "kv1/a").must(t, 0, "c")
	run("", "kv", "patch", "kv1/a", "b=d").must(t, 2, "version 2")
	run("", "secrets", "disable", "kv1").must(t, 0)
	run("", "secrets", "enable", "-path=kv2", "kv").must(t, 1, "in use")

	// Generic commands.
	run("", "write", "kv2/data/g", `data={"x":"y"}`).must(t, 1, "must be a JSON object") // a k=v value is a string
	run(`{"data":{"x":"y"}}`, "write", "kv2/data/g", "-").must(t, 0, "version")
	run("", "read", "-field=data", "kv2/data/g").must(t, 0, `{"x":"y"}`)
	run("", "list", "kv2/metadata").must(t, 0, "g")
	run("", "delete", "kv2/data/g").must(t, 0, "Success")
	run("", "read", "kv2/data/nothing").must(t, 2, "No value found")

	// VAULT_* is used when ARCA_* is unset.
	arca(t, []string{"VAULT_ADDR=http://" + p.addr, "VAULT_TOKEN=cli-root"}, "", "kv", "get", "-field=x", "secret/team/db").must(t, 1, "not present")
	// A wrong token is refused.
	arca(t, []string{"ARCA_ADDR=http://" + p.addr, "ARCA_TOKEN=wrong"}, "", "kv", "get", "secret/team/db").must(t, 1, "permission denied")
}

func TestCLIUsageErrors(t *testing.T) {
	env := []string{"ARCA_ADDR=http://127.0.0.1:1"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "Usage"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"unknown subcommand", []string{"kv", "frob"}, "unknown subcommand"},
		{"missing path", []string{"kv", "get"}, "wrong number of arguments"},
		{"bad flag", []string{"kv", "get", "-nope", "secret/x"}, "flag provided but not defined"},
		{"bad format", []string{"status", "-format=yaml"}, "table or json"},
		{"server without config", []string{"server"}, "-config"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			arca(t, env, "", tc.args...).must(t, 2, tc.want)
		})
	}
}
