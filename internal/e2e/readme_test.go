package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/arca-secrets/arca/internal/pgtest"
)

// readmeShBlocks returns the sh code blocks of the README section under
// heading, each as its lines.
func readmeShBlocks(t *testing.T, heading string) [][]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	start := strings.Index(text, "## "+heading+"\n")
	if start < 0 {
		t.Fatalf("README has no section %q", heading)
	}
	section := text[start+3:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	var blocks [][]string
	var cur []string
	in := false
	for _, line := range strings.Split(section, "\n") {
		switch {
		case strings.HasPrefix(line, "```sh"):
			in, cur = true, nil
		case in && strings.HasPrefix(line, "```"):
			in = false
			blocks = append(blocks, cur)
		case in:
			cur = append(cur, line)
		}
	}
	if len(blocks) == 0 {
		t.Fatalf("README section %q has no sh block", heading)
	}
	return blocks
}

// readmeScript returns the sh code blocks of the README section under
// heading, as one script, without the lines that start a server or set
// the address (the test provides both).
func readmeScript(t *testing.T, heading string) string {
	t.Helper()
	var script []string
	for _, block := range readmeShBlocks(t, heading) {
		for _, line := range block {
			if !strings.Contains(line, "arca server") && !strings.HasPrefix(line, "export ") && !strings.Contains(line, "go build") {
				script = append(script, line)
			}
		}
	}
	return strings.Join(script, "\n")
}

// readmeBlocks is every line of the section's sh blocks, as one script:
// for sections that start and restart their own servers.
func readmeBlocks(t *testing.T, heading string) string {
	t.Helper()
	var script []string
	for _, block := range readmeShBlocks(t, heading) {
		script = append(script, block...)
	}
	return strings.Join(script, "\n")
}

// TestREADMECommands runs the README's command blocks, as written and in
// order, against one dev server: the README must stay true.
func TestREADMECommands(t *testing.T) {
	p, _ := startDev(t, "root")
	pg := pgtest.Start(t)
	pgUser, pgPassword := pg.NewSuperuser(t)
	dir := t.TempDir()
	if err := os.Symlink(arcaBin, filepath.Join(dir, "arca")); err != nil {
		t.Fatal(err)
	}
	for _, heading := range []string{"Quick start (dev server)", "Request safety: one spelling per path, limits before work", "Memory: nothing left behind after use", "Key/value secrets", "Policies", "Tokens", "Cubbyhole and response wrapping", "Auth methods: userpass", "Auth methods: AppRole", "Leases", "Revoking many leases at once", "Change events", "Transit: encryption as a service", "Database secrets: PostgreSQL", "Agent: secrets for local processes, with no secret in the workload", "Disk keys: LUKS volumes", "Load generator", "Metrics"} {
		t.Run(heading, func(t *testing.T) {
			script := readmeScript(t, heading)
			if strings.Contains(script, "<wrapping token>") {
				// The placeholder stands for the token the previous line
				// printed; take it from there.
				script = strings.ReplaceAll(script, "curl -s -H \"X-Vault-Token: $ARCA_TOKEN\" -H \"X-Vault-Wrap-TTL: 5m\"", "WRAP=$(curl -sf -H \"X-Vault-Token: $ARCA_TOKEN\" -H \"X-Vault-Wrap-TTL: 5m\"")
				script = strings.ReplaceAll(script, "$ARCA_ADDR/v1/secret/data/app/db\n", "$ARCA_ADDR/v1/secret/data/app/db | sed -n 's/.*\"token\":\"\\([^\"]*\\)\".*/\\1/p')\n")
				script = strings.ReplaceAll(script, "<wrapping token>", "$WRAP")
			}
			cmd := exec.Command("/bin/bash", "-euo", "pipefail", "-c", script)
			cmd.Dir = dir
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "ARCA_ADDR=http://" + p.addr, "ARCA_TOKEN=root", "HOME=" + dir,
				"PG_HOSTPORT=" + net.JoinHostPort(pg.Host, strconv.Itoa(pg.Port)), "PG_USER=" + pgUser, "PG_PASSWORD=" + pgPassword}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("README section %q failed: %v\n%s\nscript:\n%s", heading, err, out, script)
			}
			for _, want := range readmeExpect[heading] {
				if !strings.Contains(string(out), want) {
					t.Errorf("README section %q: output lacks %q:\n%s", heading, want, out)
				}
			}
		})
	}
}

// TestREADMECertSection runs the cert method's section against a server
// with TLS, which the method needs and the dev server lacks.
func TestREADMECertSection(t *testing.T) {
	p, root, serverCA := startInitializedTLS(t)
	dir := t.TempDir()
	if err := os.Symlink(arcaBin, filepath.Join(dir, "arca")); err != nil {
		t.Fatal(err)
	}
	heading := "Auth methods: TLS certificates"
	cmd := exec.Command("/bin/bash", "-euo", "pipefail", "-c", readmeScript(t, heading))
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "ARCA_ADDR=https://" + p.addr, "ARCA_CACERT=" + serverCA, "ARCA_TOKEN=" + root.Token(), "HOME=" + dir}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README section %q failed: %v\n%s", heading, err, out)
	}
	for _, want := range readmeExpect[heading] {
		if !strings.Contains(string(out), want) {
			t.Errorf("README section %q: output lacks %q:\n%s", heading, want, out)
		}
	}
}

// readmeExpect is what a section's commands must print, where exiting 0
// would not prove the feature works.
var readmeExpect = map[string][]string{
	"Change events":                         {`"data_path":"secret/data/billing"`, "the server closed the subscription"},
	"Load generator":                        {"ceiling", "server CPU per operation: "},
	"Memory: nothing left behind after use": {"correct-horse-battery-staple\n", "copies left: 0\n"},
	"Metrics":                               {`arca_http_requests_total{class="sys",status="200"}`, `"Counters"`, "arca_lease_count ", "arca_token_count "},
	"Revoking many leases at once":          {"revoking leases under auth/approle/login: ", "Success! Revoked every lease under: auth/approle/login", "Success! Queued the revocation", "202"},
	"Request safety: one spelling per path, limits before work": {"refused: Polmgr is polmgr", "403"},
	"Auth methods: TLS certificates":                            {`"client_token":"s.`, `"cert_name":"web"`, `"common_name":"web-1"`, `"token_policies":["app","default"]`},
	"Disk keys: LUKS volumes":                                   {"opens keyslot 1 of disk.img", "opens keyslot 3 of disk.img", "volume web1 was revoked", "refused, as it must be", "any 2 of these 3 shares", "The shares open keyslot 2 of disk.img"},
	"Agent: secrets for local processes, with no secret in the workload": {
		`"api_key":"k-123"`, `"username":"v-workload-reports-readonly-`, "no workload role matches the caller",
		"640 reports.conf", "api_key = k-456", "reports.conf changed\nreports.conf changed\n",
		"the child's workload identity was revoked", "the service was stopped", `arca_agent_cache_reads_total{result="miss"}`,
	},
}

// runOwnServersSection runs script, a README section that starts its own
// servers, in a fresh directory with arca on PATH, and returns what it
// printed. The servers it leaves behind are killed with the test; when it
// fails, the server log at logPath (relative to the directory) is shown.
func runOwnServersSection(t *testing.T, heading, script, logPath string) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(arcaBin, filepath.Join(dir, "arca")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + dir + ":" + os.Getenv("PATH"), "HOME=" + dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t.Cleanup(func() {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})
	out, err := cmd.CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, logPath))
		t.Fatalf("README section %q failed: %v\n%s\nserver log:\n%s", heading, err, out, log)
	}
	return out
}
