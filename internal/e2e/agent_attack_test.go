package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"
)

// The attacks of issue 12 on the agent, each performed as a local user
// would, against a real agent and server: each must be refused.

// appRole binds uid running /usr/bin/curl to the "app" policy.
func appRole(t *testing.T, root *api.Client, uid uint32) {
	t.Helper()
	if _, err := root.Logical().Write("auth/workload/role/app", map[string]any{
		"bound_uids": []string{fmt.Sprint(uid)}, "bound_exe_paths": []string{"/usr/bin/curl"},
		"token_policies": "app", "token_ttl": "10m",
	}); err != nil {
		t.Fatal(err)
	}
}

// liveTokens counts the live tokens the workload role issued (their
// leases under auth/workload/login/<role>/).
func liveTokens(t *testing.T, root *api.Client, role string) int {
	t.Helper()
	s, err := root.Logical().List("sys/leases/lookup/auth/workload/login/" + role + "/")
	if err != nil {
		t.Fatal(err)
	}
	if s == nil {
		return 0
	}
	keys, _ := s.Data["keys"].([]any)
	return len(keys)
}

// Issue 12, item 1: on the loopback TCP listener no caller can use the
// agent's token: not to log in as a workload with selectors of its own
// choosing, not to read a secret, not to see the token. A request with
// its own token is forwarded with that token and nothing else; a config
// that asks for the agent's token to be lent is refused.
func TestAgentTCPListenerLendsNoToken(t *testing.T) {
	requireRoot(t)
	srv, root := startDev(t, "root")
	tcp := freeAddr(t)
	f := newAgentFixtureWith(t, srv, root, fmt.Sprintf("listener \"tcp\" { address = %q }", tcp))
	victim, victimGID := testUser(t, "arca-wl-a")
	attacker, attackerGID := testUser(t, "arca-wl-b")
	appRole(t, root, victim)
	// The victim is served on the socket.
	if code, body := f.curlAs(t, victim, victimGID, "/usr/bin/curl", "/v1/secret/data/app"); code != 200 || !strings.Contains(body, "s3cret-for-app") {
		t.Fatalf("the victim on the socket: %d %s\n%s", code, body, f.output())
	}
	selectors := fmt.Sprintf(`{"uid":"%d","gid":"%d","exe_path":"/usr/bin/curl"}`, victim, victimGID)
	for _, c := range []curlReq{
		{method: "POST", path: "/v1/auth/workload/login", body: selectors},
		{path: "/v1/auth/token/lookup-self"},
		{path: "/v1/secret/data/app"},
		{method: "POST", path: "/v1/auth/token/create", body: `{"policies":["app"]}`},
	} {
		c.uid, c.gid, c.tcp = attacker, attackerGID, tcp
		code, body := f.curl(t, c)
		if code != 403 || strings.Contains(body, "client_token") || strings.Contains(body, "s3cret") || strings.Contains(body, `"id"`) ||
			!strings.Contains(body, "lends its token to no caller") {
			t.Errorf("%s %s on TCP without a token: %d %s", c.method, c.path, code, body)
		}
	}
	// The same login through the socket: the agent does not pass it.
	code, body := f.curl(t, curlReq{uid: attacker, gid: attackerGID, method: "POST", path: "/v1/auth/workload/login", body: selectors})
	if code != 403 || strings.Contains(body, "client_token") || !strings.Contains(body, "not served through the agent") {
		t.Errorf("workload login through the socket: %d %s", code, body)
	}
	// A caller's own token is forwarded as it is: the agent adds nothing.
	code, body = f.curl(t, curlReq{uid: attacker, gid: attackerGID, tcp: tcp, path: "/v1/auth/token/lookup-self", headers: []string{"X-Vault-Token: root"}})
	if code != 200 || !strings.Contains(body, `"display_name":"root"`) {
		t.Errorf("own token on TCP: %d %s", code, body)
	}
	// The server agrees: a workload's token cannot vouch for workloads,
	// even with a policy that allows the login.
	if err := root.Sys().PutPolicy("too-much", `path "auth/workload/login" { capabilities = ["update"] }`); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("auth/workload/role/app", map[string]any{"token_policies": "app,too-much"}); err != nil {
		t.Fatal(err)
	}
	if s, err := root.Logical().Write("auth/workload/login", map[string]any{"uid": fmt.Sprint(victim), "gid": fmt.Sprint(victimGID), "exe_path": "/usr/bin/curl"}); err != nil || s.Auth == nil {
		t.Fatalf("root vouching: %v", err)
	} else {
		wl := newClient(t, srv.addr, s.Auth.ClientToken)
		if _, err := wl.Logical().Write("auth/workload/login", map[string]any{"uid": "0", "gid": "0"}); statusOf(err) != 403 || !strings.Contains(err.Error(), "cannot log workloads in") {
			t.Errorf("a workload's token logging a workload in: %v", err)
		}
	}
	// A configuration that would lend the agent's token is refused.
	conf := filepath.Join(f.dir, "lend.hcl")
	raw, _ := os.ReadFile(f.conf)
	if err := os.WriteFile(conf, []byte(strings.Replace(string(raw), fmt.Sprintf("address = %q }", tcp), fmt.Sprintf("address = %q\n use_auto_auth_token = true }", tcp), 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(arcaBin, "agent", "-config", conf).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "use_auto_auth_token is not supported") {
		t.Errorf("a config lending the agent's token: %v %s", err, out)
	}
}

// Issue 12, item 7: nothing that carries the workload's token leaves the
// agent. lookup-self shows neither the token nor its accessor, the
// second time (once a cache could answer) as the first; response
// wrapping is refused, so no wrapping token can carry the token (or a
// secret) out; what may pass at all is an allow-list.
func TestAgentLeaksNoWorkloadToken(t *testing.T) {
	requireRoot(t)
	srv, root := startDev(t, "root")
	f := newAgentFixture(t, srv, root)
	uid, gid := testUser(t, "arca-wl-a")
	appRole(t, root, uid)
	if err := root.Sys().PutPolicy("app-wide", `path "*" { capabilities = ["create", "read", "update", "list", "sudo"] }`); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("auth/workload/role/app", map[string]any{"token_policies": "app,app-wide"}); err != nil {
		t.Fatal(err)
	}
	var accessor string
	for i := range 3 {
		code, body := f.curlAs(t, uid, gid, "/usr/bin/curl", "/v1/auth/token/lookup-self")
		if code != 200 || !strings.Contains(body, `"id":"[held by arca agent]"`) || !strings.Contains(body, `"accessor":"[held by arca agent]"`) {
			t.Fatalf("lookup-self #%d: %d %s", i+1, code, body)
		}
		if accessor == "" {
			accessor = tokenAccessor(t, root, "workload-app")
		}
		if strings.Contains(body, accessor) {
			t.Fatalf("lookup-self #%d shows the accessor %s: %s", i+1, accessor, body)
		}
	}
	// A cached read is served the same, and the token is nowhere in it.
	for i := range 2 {
		if code, body := f.curlAs(t, uid, gid, "/usr/bin/curl", "/v1/secret/data/app"); code != 200 || !strings.Contains(body, "s3cret-for-app") || strings.Contains(body, accessor) {
			t.Fatalf("read #%d: %d %s", i+1, code, body)
		}
	}
	// Wrapping the token's own lookup (or anything) is refused by the
	// agent before it reaches the server.
	for _, path := range []string{"/v1/auth/token/lookup-self", "/v1/secret/data/app"} {
		code, body := f.curlAs(t, uid, gid, "/usr/bin/curl", path, "X-Vault-Wrap-TTL: 5m")
		if code != 403 || strings.Contains(body, "wrap_info") || !strings.Contains(body, "response wrapping is not served") {
			t.Errorf("wrapped %s: %d %s", path, code, body)
		}
	}
	// Paths outside the allow-list get the agent's 403, whatever the
	// role's policy says (app-wide allows everything).
	for _, c := range []curlReq{
		{method: "POST", path: "/v1/auth/token/create", body: `{"ttl":"1h"}`},
		{method: "POST", path: "/v1/auth/token/create-orphan", body: `{}`},
		{method: "POST", path: "/v1/auth/token/renew-self", body: `{}`},
		{method: "POST", path: "/v1/sys/wrapping/wrap", body: `{"a":"b"}`},
		{method: "GET", path: "/v1/sys/policies/acl/app"},
		{method: "GET", path: "/v1/auth/token/accessors?list=true"},
		{method: "GET", path: "/v1/secret/data/../../auth/token/lookup-self"},
	} {
		c.uid, c.gid = uid, gid
		code, body := f.curl(t, c)
		if code != 403 || !strings.Contains(body, "arca agent:") || strings.Contains(body, "client_token") || strings.Contains(body, accessor) {
			t.Errorf("%s %s: %d %s", c.method, c.path, code, body)
		}
	}
	// Within the list, the wider policy holds.
	if code, body := f.curl(t, curlReq{uid: uid, gid: gid, method: "PUT", path: "/v1/secret/data/more", body: `{"data":{"k":"v"}}`}); code != 200 {
		t.Errorf("a write within the list: %d %s", code, body)
	}
}

// tokenAccessor finds the accessor of the one token with display name
// name.
func tokenAccessor(t *testing.T, root *api.Client, name string) string {
	t.Helper()
	s, err := root.Logical().List("auth/token/accessors")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range s.Data["keys"].([]any) {
		e, err := root.Logical().Write("auth/token/lookup-accessor", map[string]any{"accessor": a})
		if err == nil && e.Data["display_name"] == name {
			return a.(string)
		}
	}
	t.Fatalf("no token named %s", name)
	return ""
}

// Issue 12, item 9: forbidden requests cost no token. Thirty refusals by
// the policy leave the one token the workload had (the agent sees, by
// the token's own lookup, that it is live, and logs in for none of
// them). A role change revokes the role's tokens: the agent finds its
// token dead, drops it and logs in once; stopping the agent revokes what
// it holds.
func TestAgentRefusalsLeaveNoTokens(t *testing.T) {
	requireRoot(t)
	srv, root := startDev(t, "root")
	f := newAgentFixture(t, srv, root)
	uid, gid := testUser(t, "arca-wl-a")
	appRole(t, root, uid)
	if code, body := f.curlAs(t, uid, gid, "/usr/bin/curl", "/v1/secret/data/app"); code != 200 {
		t.Fatalf("allowed read: %d %s", code, body)
	}
	for i := range 30 {
		if code, body := f.curlAs(t, uid, gid, "/usr/bin/curl", fmt.Sprintf("/v1/secret/data/other-%d", i)); code != 403 {
			t.Fatalf("forbidden read #%d: %d %s", i, code, body)
		}
	}
	if n := liveTokens(t, root, "app"); n != 1 {
		t.Fatalf("after 30 forbidden requests: %d live tokens of role app, want 1", n)
	}
	// The role changes and still matches: its tokens are revoked, and the
	// next request is served with one new token.
	if _, err := root.Logical().Write("auth/workload/role/app", map[string]any{"token_ttl": "20m"}); err != nil {
		t.Fatal(err)
	}
	if n := liveTokens(t, root, "app"); n != 0 {
		t.Fatalf("after the role changed: %d live tokens, want 0", n)
	}
	if code, body := f.curlAs(t, uid, gid, "/usr/bin/curl", "/v1/secret/data/app?after=change"); code != 200 || !strings.Contains(body, "s3cret-for-app") {
		t.Fatalf("after the role changed: %d %s\n%s", code, body, f.output())
	}
	if n := liveTokens(t, root, "app"); n != 1 {
		t.Fatalf("after logging in again: %d live tokens, want 1", n)
	}
	// The role no longer matches: refused at once, with no token left.
	if _, err := root.Logical().Write("auth/workload/role/app", map[string]any{"bound_exe_paths": "/usr/bin/wget"}); err != nil {
		t.Fatal(err)
	}
	if code, body := f.curlAs(t, uid, gid, "/usr/bin/curl", "/v1/secret/data/app?after=change-2"); code != 403 || !strings.Contains(body, "no workload role matches the caller") {
		t.Fatalf("after the role stopped matching: %d %s", code, body)
	}
	if n := liveTokens(t, root, "app"); n != 0 {
		t.Fatalf("after the role stopped matching: %d live tokens, want 0", n)
	}
	if _, err := root.Logical().Write("auth/workload/role/app", map[string]any{"bound_exe_paths": "/usr/bin/curl"}); err != nil {
		t.Fatal(err)
	}
	// Callers that match no role cost nothing either: not a token, not a
	// login of the agent's own.
	uidB, gidB := testUser(t, "arca-wl-b")
	for i := range 10 {
		if code, body := f.curlAs(t, uidB, gidB, "/usr/bin/curl", "/v1/secret/data/app"); code != 403 || !strings.Contains(body, "no workload role matches") {
			t.Fatalf("a caller with no role, #%d: %d %s", i, code, body)
		}
	}
	if n := strings.Count(f.output(), "agent authenticated"); n != 1 {
		t.Fatalf("callers with no role made the agent log itself in %d times, want once:\n%s", n, f.output())
	}
	// The agent's own token is revoked: the agent logs itself in again
	// and serves (a workload it has no token for yet).
	if _, err := root.Logical().Write("auth/token/revoke-accessor", map[string]any{"accessor": tokenAccessor(t, root, "approle-host-agent")}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("auth/workload/role/app-b", map[string]any{"bound_uids": fmt.Sprint(uidB), "token_policies": "app"}); err != nil {
		t.Fatal(err)
	}
	if code, body := f.curlAs(t, uidB, gidB, "/usr/bin/curl", "/v1/secret/data/app"); code != 200 {
		t.Fatalf("after the agent's token was revoked: %d %s\n%s", code, body, f.output())
	}
	if n := strings.Count(f.output(), "agent authenticated"); n != 2 {
		t.Fatalf("the agent logged itself in %d times, want 2:\n%s", n, f.output())
	}
	// Stopping the agent revokes the tokens it held.
	if err := f.agent.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the agent did not stop:\n%s", f.output())
	}
	for _, role := range []string{"app", "app-b"} {
		if n := liveTokens(t, root, role); n != 0 {
			t.Fatalf("after the agent stopped: %d live tokens of role %s, want 0\n%s", n, role, f.output())
		}
	}
}

// Issue 12, item 8, in real cgroups: a user who owns a delegated subtree
// (user@UID.service) names cgroups in it after the victim's unit and
// container; neither binding is met. The same names where systemd and
// the runtimes put them are.
func TestAgentRefusesForgedUnitAndContainer(t *testing.T) {
	requireRoot(t)
	base := "/sys/fs/cgroup/unified"
	if _, err := os.Stat(base + "/cgroup.procs"); err != nil {
		base = "/sys/fs/cgroup"
	}
	if _, err := os.Stat(base + "/cgroup.procs"); err != nil {
		t.Fatalf("no unified cgroup hierarchy at %s: %v", base, err)
	}
	srv, root := startDev(t, "root")
	f := newAgentFixture(t, srv, root)
	uid, gid := testUser(t, "arca-wl-a")
	container := strings.Repeat("5eed", 16)
	slice := fmt.Sprintf("arca-test-%d.slice", os.Getpid())
	// open creates the cgroup at rel (below base) and opens it.
	open := func(rel string) *os.File {
		t.Helper()
		dir := filepath.Join(base, rel)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			for d := dir; d != base; d = filepath.Dir(d) {
				_ = os.Remove(d)
			}
		})
		cg, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cg.Close() })
		return cg
	}
	userManager := filepath.Join(slice, fmt.Sprintf("user-%d.slice", uid), fmt.Sprintf("user@%d.service", uid))
	forgedUnit := open(filepath.Join(userManager, "app.slice", "reports.service"))
	forgedContainer := open(filepath.Join(userManager, "docker-"+container+".scope"))
	realUnit := open(filepath.Join(slice, "reports.service"))
	realContainer := open(filepath.Join(slice, "docker-"+container+".scope"))

	for _, r := range []struct{ name, key, value string }{
		{"unit", "bound_systemd_units", "reports.service"},
		{"container", "bound_container_ids", container},
	} {
		if _, err := root.Logical().Write("auth/workload/role/"+r.name, map[string]any{
			"bound_uids": fmt.Sprint(uid), r.key: r.value, "token_policies": "app",
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name   string
		cgroup *os.File
		ok     bool
	}{
		{"forged unit", forgedUnit, false},
		{"forged container", forgedContainer, false},
		{"system unit", realUnit, true},
		{"runtime container", realContainer, true},
	} {
		code, body := f.curlIn(t, c.cgroup, uid, gid, "/usr/bin/curl", "/v1/secret/data/app")
		if c.ok != (code == 200) || !c.ok && (code != 403 || strings.Contains(body, "s3cret")) {
			t.Errorf("%s: %d %s", c.name, code, body)
		}
	}
}

// Issue 12, item 10: a process of the bound uid running the bound binary
// is not served as that binary when the dynamic loader was told to put
// other code in it (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT), nor at all
// while a tracer controls it.
func TestAgentExeBindingRefusesPreloadAndTracer(t *testing.T) {
	requireRoot(t)
	srv, root := startDev(t, "root")
	f := newAgentFixture(t, srv, root)
	uid, gid := testUser(t, "arca-wl-a")
	appRole(t, root, uid)
	libc, _ := filepath.Glob("/usr/lib/*/libc.so.6")
	if len(libc) == 0 {
		libc, _ = filepath.Glob("/lib/*/libc.so.6")
	}
	if len(libc) == 0 {
		t.Fatal("no libc.so.6 to preload")
	}
	if code, body := f.curl(t, curlReq{uid: uid, gid: gid, path: "/v1/secret/data/app"}); code != 200 {
		t.Fatalf("curl as itself: %d %s\n%s", code, body, f.output())
	}
	for _, env := range []string{"LD_PRELOAD=" + libc[0], "LD_LIBRARY_PATH=" + f.dir, "LD_AUDIT=" + libc[0]} {
		code, body := f.curl(t, curlReq{uid: uid, gid: gid, path: "/v1/secret/data/app", env: []string{env}})
		name, _, _ := strings.Cut(env, "=")
		if code != 403 || strings.Contains(body, "s3cret") || !strings.Contains(body, "not vouched for: "+name) {
			t.Errorf("curl with %s: %d %s", env, code, body)
		}
	}
	// An empty LD_PRELOAD puts nothing in the process.
	if code, body := f.curl(t, curlReq{uid: uid, gid: gid, path: "/v1/secret/data/app", env: []string{"LD_PRELOAD="}}); code != 200 {
		t.Errorf("curl with an empty LD_PRELOAD: %d %s", code, body)
	}
	code, body := tracedCurl(t, curlReq{uid: uid, gid: gid, path: "/v1/secret/data/app"}, f.sock)
	if code != 403 || strings.Contains(body, "s3cret") || !strings.Contains(body, "is being traced") {
		t.Errorf("traced curl: %d %s", code, body)
	}
	// A clean process whose connection is shared with a preloaded copy of
	// the same executable: the copy could speak on it, so the executable
	// is not vouched for.
	self, _ := os.Executable()
	if _, err := root.Logical().Write("auth/workload/role/tests", map[string]any{"bound_uids": "0", "bound_exe_paths": self, "token_policies": "app"}); err != nil {
		t.Fatal(err)
	}
	if code, body := f.get("/v1/secret/data/app"); code != 200 {
		t.Fatalf("the test binary, alone: %d %s", code, body)
	}
	helper := exec.Command(self)
	helper.Env = append(os.Environ(), helperEnv+"=share-preloaded", "ARCA_E2E_SOCK="+f.sock, "ARCA_E2E_PRELOAD="+libc[0])
	out, err := helper.Output()
	got, _, _ := strings.Cut(string(out), helperEnd)
	if err != nil || !strings.HasPrefix(got, "HTTP/1.1 403") || strings.Contains(got, "s3cret") || !strings.Contains(got, "not vouched for: LD_PRELOAD") {
		t.Errorf("a connection shared with a preloaded copy: %v %q", err, got)
	}
}

// tracedCurl runs r's curl under ptrace, this test being its tracer.
func tracedCurl(t *testing.T, r curlReq, sock string) (int, string) {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// The tracer is the thread that started the tracee: stay on it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd := r.command(sock)
	cmd.Stdout = out
	cmd.SysProcAttr.Ptrace = true
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	for {
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(pid, &ws, syscall.WALL, nil); err != nil {
			t.Fatalf("waiting for the traced curl: %v", err)
		}
		if ws.Exited() || ws.Signaled() {
			break
		}
		sig := 0
		if ws.Stopped() && ws.StopSignal() != syscall.SIGTRAP {
			sig = int(ws.StopSignal())
		}
		if err := syscall.PtraceCont(pid, sig); err != nil {
			t.Fatalf("continuing the traced curl: %v", err)
		}
	}
	raw, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	return parseCurl(raw)
}
