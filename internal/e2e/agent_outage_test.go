package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// While the server is down, the agent serves a workload's own cached
// reads for max_stale past their TTL, saying how stale (X-Arca-Stale,
// Age), and then refuses them with a 503 that says why; an identity that
// cached nothing gets nothing. The window is short (kv_ttl 1s, max_stale
// 3s) and every phase is waited for as a condition.
func TestAgentServesCachedReadsThroughAnOutage(t *testing.T) {
	requireRoot(t)
	srv, root := startDev(t, "root")
	f := prepareAgent(t, srv, root)
	f.cache = `cache { kv_ttl = "1s"  max_stale = "3s" }`
	f.writeAppRoleConfig("")
	f.start()
	uidA, gidA := testUser(t, "arca-wl-a")
	uidB, gidB := testUser(t, "arca-wl-b")
	for role, uid := range map[string]uint32{"app": uidA, "other": uidB} {
		if _, err := root.Logical().Write("auth/workload/role/"+role, map[string]any{
			"bound_uids": []string{fmt.Sprint(uid)}, "bound_exe_paths": []string{"/usr/bin/curl"},
			"token_policies": "app", "token_ttl": "10m",
		}); err != nil {
			t.Fatal(err)
		}
	}
	read := func(uid, gid uint32) (int, string) {
		return f.curl(t, curlReq{uid: uid, gid: gid, path: "/v1/secret/data/app", withHeaders: true})
	}
	readStart := time.Now()
	if code, out := read(uidA, gidA); code != 200 || !strings.Contains(out, "s3cret-for-app") {
		t.Fatalf("before the outage: %d %s\nagent:\n%s", code, out, f.output())
	}
	srv.kill()

	// Past the TTL, the read is served stale, with the header.
	var stale string
	agentEventually(t, 10*time.Second, func() (bool, string) {
		code, out := read(uidA, gidA)
		if code != 200 || !strings.Contains(out, "s3cret-for-app") {
			t.Fatalf("during the outage, within max_stale: %d %s\nagent:\n%s", code, out, f.output())
		}
		stale = headerLine(out, "X-Arca-Stale")
		return stale != "" && headerLine(out, "Age") != "", out
	})
	if _, err := time.ParseDuration(stale); err != nil {
		t.Fatalf("X-Arca-Stale: got %q, want a duration", stale)
	}
	// Uid B cached nothing: it gets no secret, and no one else's.
	if code, out := read(uidB, gidB); code != 502 || strings.Contains(out, "s3cret") {
		t.Fatalf("an identity with nothing cached, during the outage: %d %s", code, out)
	}
	// Past max_stale, a 503 that says why; never the secret.
	agentEventually(t, 15*time.Second, func() (bool, string) {
		code, out := read(uidA, gidA)
		if code == 200 && strings.Contains(out, "s3cret-for-app") && headerLine(out, "X-Arca-Stale") != "" {
			return false, out
		}
		if code != 503 || strings.Contains(out, "s3cret") || !strings.Contains(out, "older than max_stale") {
			t.Fatalf("past max_stale: %d %s", code, out)
		}
		return true, ""
	})
	// The agent's clock is the wall clock here: the refusal cannot come
	// before kv_ttl + max_stale after the read was cached (which was
	// after readStart).
	if el := time.Since(readStart); el < 4*time.Second {
		t.Fatalf("refused %s after the cached read, before kv_ttl+max_stale (4s)", el)
	}
	if !strings.Contains(f.output(), "served a stale read") {
		t.Fatalf("the agent did not log its stale answers:\n%s", f.output())
	}
}

// headerLine is the value of header name in curl -i output ("" if none).
func headerLine(out, name string) string {
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\r"), ":")
		if ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
		if strings.TrimSpace(line) == "" {
			break
		}
	}
	return ""
}
