package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openbao/openbao/api/v2"
)

// startListener starts an inmem server whose listener block carries
// listenerKeys (one "key = value" a line) and which records to a file
// audit device; it initialises and unseals it and returns the process, a
// root client, the audit log path and the unseal key.
func startListener(t *testing.T, listenerKeys ...string) (*proc, *api.Client, string, string) {
	t.Helper()
	addr := freeAddr(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.log")
	conf := filepath.Join(dir, "arca.hcl")
	body := fmt.Sprintf(`storage "inmem" {}
disable_mlock = true
listener "tcp" {
  address = %q
  tls_disable = true
  %s
}
audit "file" "main" {
  file_path = %q
}
`, addr, strings.Join(listenerKeys, "\n  "), logPath)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startArca(t, addr, "-config="+conf)
	c := newClient(t, addr, "")
	init := initAndUnseal(t, c)
	return p, c, logPath, init.Keys[0]
}

// auditEntry is one line of a file audit log, as far as these tests read
// it.
type auditEntry struct {
	Type    string `json:"type"`
	Error   string `json:"error"`
	Request struct {
		ID        string `json:"id"`
		Operation string `json:"operation"`
		Path      string `json:"path"`
	} `json:"request"`
	Response map[string]any `json:"response"`
}

// readAudit parses every line of the audit log at path.
func readAudit(t *testing.T, path string) []auditEntry {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []auditEntry
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e auditEntry
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("audit line is not JSON: %v\n%s", err, line)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// auditCounts counts the request and response entries for path among the
// entries after the first skip.
func auditCounts(entries []auditEntry, skip int, path string) (requests, responses int) {
	for _, e := range entries[min(skip, len(entries)):] {
		if e.Request.Path != path {
			continue
		}
		switch e.Type {
		case "request":
			requests++
		case "response":
			responses++
		}
	}
	return requests, responses
}

// childToken makes a token with the given policies as root.
func childToken(t *testing.T, root *api.Client, policies ...string) string {
	t.Helper()
	s, err := root.Auth().Token().Create(&api.TokenCreateRequest{Policies: policies, TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	return s.Auth.ClientToken
}

// putPolicy writes an ACL policy as root.
func putPolicy(t *testing.T, root *api.Client, name, text string) {
	t.Helper()
	if err := root.Sys().PutPolicy(name, text); err != nil {
		t.Fatalf("writing policy %s: %v", name, err)
	}
}

// jsonBody renders v as a JSON request body.
func jsonBody(t *testing.T, v any) *bytes.Reader {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}

// jsonText renders v as JSON text.
func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mustRead returns the text of the file at path.
func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
