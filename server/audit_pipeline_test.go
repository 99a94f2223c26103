package server_test

import (
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// step is one request of a pipeline test and what it must leave.
type step struct {
	name   string
	method string
	path   string // as sent, after /v1/
	tok    string
	body   any
	header map[string]string
	status int
	// audited is the canonical path the audit entries carry.
	audited string
	// failed: the handler refused; the response entry carries its error.
	failed bool
}

// checkAudited sends st and checks that the audit log gained exactly one
// request entry and one response entry for it, with the canonical path
// and the same request id, and no error on the request.
func (ts *testServer) checkAudited(t *testing.T, log *auditLog, st step) answer {
	t.Helper()
	a := ts.doHeaders(st.method, st.path, st.tok, st.body, st.header)
	if a.status != st.status {
		t.Errorf("%s %s: status %d (%s), want %d", st.method, st.path, a.status, a.errors(), st.status)
	}
	entries := log.next()
	var reqs, resps []auditEntry
	for _, e := range entries {
		switch e.Type {
		case "request":
			reqs = append(reqs, e)
		case "response":
			resps = append(resps, e)
		default:
			t.Errorf("%s: audit entry of type %q", st.name, e.Type)
		}
	}
	if len(reqs) != 1 || len(resps) != 1 {
		t.Errorf("%s %s: %d request and %d response entries, want 1 and 1: %+v", st.method, st.path, len(reqs), len(resps), entries)
		return a
	}
	if reqs[0].Request.Path != st.audited || resps[0].Request.Path != st.audited {
		t.Errorf("%s %s: audited paths %q and %q, want %q", st.method, st.path, reqs[0].Request.Path, resps[0].Request.Path, st.audited)
	}
	if reqs[0].Error != "" {
		t.Errorf("%s %s: request entry has error %q", st.method, st.path, reqs[0].Error)
	}
	if (resps[0].Error != "") != st.failed {
		t.Errorf("%s %s: response entry's error %q; want one: %v", st.method, st.path, resps[0].Error, st.failed)
	}
	if reqs[0].Request.ID == "" || reqs[0].Request.ID != resps[0].Request.ID {
		t.Errorf("%s %s: request id %q, response entry's %q", st.method, st.path, reqs[0].Request.ID, resps[0].Request.ID)
	}
	if entries[0].Type != "request" {
		t.Errorf("%s %s: the response entry was written before the request entry", st.method, st.path)
	}
	if rest, ok := strings.CutPrefix(st.audited, "sys/"); ok {
		if route, ok := ts.srv.SysRouteOf(rest); ok {
			ts.covered[route] = true
		}
	}
	return a
}

// checkRefused sends st and checks that the audit log gained exactly one
// request entry, carrying an error, and no response entry.
func (ts *testServer) checkRefused(t *testing.T, log *auditLog, st step) {
	t.Helper()
	a := ts.doHeaders(st.method, st.path, st.tok, st.body, st.header)
	if a.status != st.status {
		t.Errorf("%s %s: status %d (%s), want %d", st.method, st.path, a.status, a.errors(), st.status)
	}
	entries := log.next()
	if len(entries) != 1 || entries[0].Type != "request" {
		t.Errorf("%s %s: audit entries %+v, want exactly one request entry", st.method, st.path, entries)
		return
	}
	if entries[0].Error == "" {
		t.Errorf("%s %s: the refused request's entry has no error", st.method, st.path)
	}
	if entries[0].Request.Path != st.audited {
		t.Errorf("%s %s: audited path %q, want %q", st.method, st.path, entries[0].Request.Path, st.audited)
	}
}

func str(m map[string]any, keys ...string) string {
	var v any = m
	for _, k := range keys {
		mm, _ := v.(map[string]any)
		v = mm[k]
	}
	s, _ := v.(string)
	return s
}

// TestEveryRouteFamilyIsAuditedOnce walks every family of sys routes, a
// KV path and a login, and checks that each authenticated request leaves
// exactly one request entry and one response entry, under its canonical
// path.
func TestEveryRouteFamilyIsAuditedOnce(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	log := ts.audit()
	root := ts.root
	run := func(steps ...step) {
		t.Helper()
		for _, st := range steps {
			ts.checkAudited(t, log, st)
		}
	}
	secondLog := filepath.Join(filepath.Dir(ts.auditPath), "second.log")
	const pwPolicy = "length = 20\nrule \"charset\" {\n  charset = \"abcdef\"\n  min-chars = 1\n}\n"

	run(
		step{name: "mounts", method: "GET", path: "sys/mounts", tok: root, status: 200, audited: "sys/mounts"},
		step{name: "mount enable", method: "POST", path: "sys/mounts/kv1", tok: root, body: map[string]any{"type": "kv", "options": map[string]any{"version": "1"}}, status: 204, audited: "sys/mounts/kv1"},
		step{name: "mount read", method: "GET", path: "sys/mounts/kv1", tok: root, status: 200, audited: "sys/mounts/kv1"},
		step{name: "tune read", method: "GET", path: "sys/mounts/kv1/tune", tok: root, status: 200, audited: "sys/mounts/kv1/tune"},
		step{name: "tune", method: "POST", path: "sys/mounts/kv1/tune/", tok: root, body: map[string]any{"default_lease_ttl": "1h"}, status: 204, audited: "sys/mounts/kv1/tune"},
		step{name: "mount disable", method: "DELETE", path: "sys/mounts/kv1", tok: root, status: 204, audited: "sys/mounts/kv1"},
		step{name: "auth list", method: "GET", path: "sys/auth", tok: root, status: 200, audited: "sys/auth"},
		step{name: "auth enable", method: "POST", path: "sys/auth/userpass", tok: root, body: map[string]any{"type": "userpass"}, status: 204, audited: "sys/auth/userpass"},
		step{name: "auth tune read", method: "GET", path: "sys/auth/userpass/tune", tok: root, status: 200, audited: "sys/auth/userpass/tune"},
		step{name: "policy list (legacy)", method: "GET", path: "sys/policy", tok: root, status: 200, audited: "sys/policy"},
		step{name: "policy write (legacy)", method: "PUT", path: "sys/policy/Legacy", tok: root, body: map[string]any{"rules": `path "secret/*" { capabilities = ["read"] }`}, status: 204, audited: "sys/policies/acl/legacy"},
		step{name: "policy read (legacy)", method: "GET", path: "sys/policy/legacy", tok: root, status: 200, audited: "sys/policies/acl/legacy"},
		step{name: "acl list", method: "LIST", path: "sys/policies/acl", tok: root, status: 200, audited: "sys/policies/acl/"},
		step{name: "acl write", method: "PUT", path: "sys/policies/acl/Reader", tok: root, body: map[string]any{"policy": `path "secret/data/*" { capabilities = ["read"] }`}, status: 204, audited: "sys/policies/acl/reader"},
		step{name: "acl read", method: "GET", path: "sys/policies/acl/READER", tok: root, status: 200, audited: "sys/policies/acl/reader"},
		step{name: "acl delete", method: "DELETE", path: "sys/policies/acl/legacy", tok: root, status: 204, audited: "sys/policies/acl/legacy"},
		step{name: "password policy write", method: "PUT", path: "sys/policies/password/pw", tok: root, body: map[string]any{"policy": pwPolicy}, status: 204, audited: "sys/policies/password/pw"},
		step{name: "password policy read", method: "GET", path: "sys/policies/password/pw", tok: root, status: 200, audited: "sys/policies/password/pw"},
		step{name: "password generate", method: "GET", path: "sys/policies/password/pw/generate", tok: root, status: 200, audited: "sys/policies/password/pw/generate"},
		step{name: "password policy list", method: "LIST", path: "sys/policies/password", tok: root, status: 200, audited: "sys/policies/password/"},
		step{name: "password policy delete", method: "DELETE", path: "sys/policies/password/pw", tok: root, status: 204, audited: "sys/policies/password/pw"},
		step{name: "audit list", method: "GET", path: "sys/audit", tok: root, status: 200, audited: "sys/audit"},
		step{name: "audit enable", method: "PUT", path: "sys/audit/second", tok: root, body: map[string]any{"type": "file", "options": map[string]any{"file_path": secondLog}}, status: 204, audited: "sys/audit/second"},
		step{name: "audit hash", method: "POST", path: "sys/audit-hash/file", tok: root, body: map[string]any{"input": "x"}, status: 200, audited: "sys/audit-hash/file"},
		step{name: "audit disable", method: "DELETE", path: "sys/audit/second", tok: root, status: 204, audited: "sys/audit/second"},
		step{name: "capabilities-self", method: "POST", path: "sys/capabilities-self", tok: root, body: map[string]any{"paths": []string{"secret/data/x"}}, status: 200, audited: "sys/capabilities-self"},
		step{name: "ui mounts", method: "GET", path: "sys/internal/ui/mounts", tok: root, status: 200, audited: "sys/internal/ui/mounts"},
		step{name: "ui mount", method: "GET", path: "sys/internal/ui/mounts/secret/data/x", tok: root, status: 200, audited: "sys/internal/ui/mounts/secret/data/x"},
		step{name: "key status", method: "GET", path: "sys/key-status", tok: root, status: 200, audited: "sys/key-status"},
		step{name: "rotate", method: "PUT", path: "sys/rotate", tok: root, status: 204, audited: "sys/rotate"},
		step{name: "rekey status", method: "GET", path: "sys/rekey/init", tok: root, status: 200, audited: "sys/rekey/init"},
		step{name: "kv write", method: "PUT", path: "secret/data/app", tok: root, body: map[string]any{"data": map[string]any{"k": "v"}}, status: 200, audited: "secret/data/app"},
		step{name: "kv read", method: "GET", path: "secret/data/app/", tok: root, status: 200, audited: "secret/data/app"},
		step{name: "user write", method: "POST", path: "auth/userpass/users/Bob", tok: root, body: map[string]any{"password": "pw-of-bob", "token_policies": "reader"}, status: 204, audited: "auth/userpass/users/bob"},
	)

	// The second device saw the requests made while it was enabled, once.
	second := (&auditLog{t: t, path: secondLog}).next()
	var got []string
	for _, e := range second {
		got = append(got, e.Type+" "+e.Request.Path)
	}
	if want := []string{"response sys/audit/second", "request sys/audit-hash/file", "response sys/audit-hash/file", "request sys/audit/second"}; !slices.Equal(got, want) {
		t.Errorf("the second device recorded %q, want %q", got, want)
	}

	// A login: no token, one request and one response that carries the
	// token issued.
	login := ts.checkAudited(t, log, step{name: "login", method: "POST", path: "auth/userpass/login/BOB", body: map[string]any{"password": "pw-of-bob"}, status: 200, audited: "auth/userpass/login/bob"})
	bobToken := str(login.body, "auth", "client_token")
	bobAccessor := str(login.body, "auth", "accessor")

	run(
		step{name: "capabilities", method: "POST", path: "sys/capabilities", tok: root, body: map[string]any{"token": bobToken, "paths": []string{"secret/data/x"}}, status: 200, audited: "sys/capabilities"},
		step{name: "capabilities-accessor", method: "POST", path: "sys/capabilities-accessor", tok: root, body: map[string]any{"accessor": bobAccessor, "paths": []string{"secret/data/x"}}, status: 200, audited: "sys/capabilities-accessor"},
	)

	// Leases: the login's token has one.
	list := ts.checkAudited(t, log, step{name: "lease list", method: "LIST", path: "sys/leases/lookup/auth/userpass/login/bob", tok: root, status: 200, audited: "sys/leases/lookup/auth/userpass/login/bob/"})
	keys, _ := list.data()["keys"].([]any)
	if len(keys) != 1 {
		t.Fatalf("lease list: keys %v, want the login's one lease", keys)
	}
	leaseID := "auth/userpass/login/bob/" + keys[0].(string)
	run(
		step{name: "lease lookup", method: "PUT", path: "sys/leases/lookup", tok: root, body: map[string]any{"lease_id": leaseID}, status: 200, audited: "sys/leases/lookup"},
		step{name: "lease renew", method: "PUT", path: "sys/leases/renew", tok: root, body: map[string]any{"lease_id": leaseID}, status: 200, audited: "sys/leases/renew"},
		step{name: "legacy renew", method: "PUT", path: "sys/renew/" + leaseID, tok: root, status: 200, audited: "sys/leases/renew/" + leaseID},
		step{name: "legacy renew (body)", method: "PUT", path: "sys/renew", tok: root, body: map[string]any{"lease_id": leaseID}, status: 200, audited: "sys/leases/renew"},
		step{name: "lease revoke", method: "PUT", path: "sys/leases/revoke", tok: root, body: map[string]any{"lease_id": leaseID}, status: 204, audited: "sys/leases/revoke"},
	)
	for _, st := range []step{
		{name: "legacy revoke", method: "PUT", path: "sys/revoke/", tok: root, status: 204, audited: "sys/leases/revoke/"},
		{name: "legacy revoke (body)", method: "PUT", path: "sys/revoke", tok: root, status: 204, audited: "sys/leases/revoke"},
		{name: "revoke-prefix", method: "PUT", path: "sys/leases/revoke-prefix/auth/userpass/login/bob/", tok: root, status: 204, audited: "sys/leases/revoke-prefix/auth/userpass/login/bob"},
	} {
		login := ts.must(http.StatusOK, "POST", "auth/userpass/login/bob", "", map[string]any{"password": "pw-of-bob"})
		if strings.HasPrefix(st.name, "legacy revoke") {
			keys, _ := ts.must(http.StatusOK, "LIST", "sys/leases/lookup/auth/userpass/login/bob", root, nil).data()["keys"].([]any)
			if len(keys) != 1 {
				t.Fatalf("lease list: keys %v, want one", keys)
			}
			id := "auth/userpass/login/bob/" + keys[0].(string)
			if st.path == "sys/revoke" {
				st.body = map[string]any{"lease_id": id}
			} else {
				st.path, st.audited = "sys/revoke/"+id, "sys/leases/revoke/"+id
			}
		}
		log.next()
		ts.checkAudited(t, log, st)
		if a := ts.do("GET", "auth/token/lookup-self", str(login.body, "auth", "client_token"), nil); a.status != http.StatusForbidden {
			t.Errorf("%s: the login's token still answers %d", st.name, a.status)
		}
		log.next()
	}

	// Wrapping: wrap, rewrap, lookup (open), unwrap with the wrapping
	// token as the request's token and in the body.
	wrapped := ts.checkAudited(t, log, step{name: "wrap", method: "POST", path: "sys/wrapping/wrap", tok: root, body: map[string]any{"secret": "s3"}, status: 200, audited: "sys/wrapping/wrap"})
	w1 := str(wrapped.body, "wrap_info", "token")
	rewrapped := ts.checkAudited(t, log, step{name: "rewrap", method: "POST", path: "sys/wrapping/rewrap", tok: root, body: map[string]any{"token": w1}, status: 200, audited: "sys/wrapping/rewrap"})
	w2 := str(rewrapped.body, "wrap_info", "token")
	ts.checkAudited(t, log, step{name: "wrapping lookup (no token)", method: "POST", path: "sys/wrapping/lookup", body: map[string]any{"token": w2}, status: 200, audited: "sys/wrapping/lookup"})
	unwrapped := ts.checkAudited(t, log, step{name: "unwrap (X-Vault-Token)", method: "POST", path: "sys/wrapping/unwrap", tok: w2, status: 200, audited: "sys/wrapping/unwrap"})
	if got := str(unwrapped.body, "data", "secret"); got != "s3" {
		t.Errorf("unwrap answered %s, want the wrapped data", unwrapped.raw)
	}
	w3 := str(ts.must(http.StatusOK, "POST", "sys/wrapping/wrap", root, map[string]any{"secret": "s4"}).body, "wrap_info", "token")
	log.next()
	ts.checkAudited(t, log, step{name: "unwrap (body)", method: "POST", path: "sys/wrapping/unwrap", tok: root, body: map[string]any{"token": w3}, status: 200, audited: "sys/wrapping/unwrap"})

	// Integrated storage: this server's is not raft, and says so.
	run(
		step{name: "raft configuration", method: "GET", path: "sys/storage/raft/configuration", tok: root, status: 400, audited: "sys/storage/raft/configuration", failed: true},
		step{name: "raft remove-peer", method: "POST", path: "sys/storage/raft/remove-peer", tok: root, body: map[string]any{"server_id": "x"}, status: 400, audited: "sys/storage/raft/remove-peer", failed: true},
		step{name: "raft snapshot", method: "GET", path: "sys/storage/raft/snapshot", tok: root, status: 400, audited: "sys/storage/raft/snapshot", failed: true},
		step{name: "raft snapshot-force", method: "POST", path: "sys/storage/raft/snapshot-force", tok: root, status: 400, audited: "sys/storage/raft/snapshot-force", failed: true},
		// Step-down on a node that is not in a cluster does nothing, as in Vault.
		step{name: "step-down", method: "PUT", path: "sys/step-down", tok: root, status: 204, audited: "sys/step-down"},
		// A node alone has no HA peers to list.
		step{name: "ha-status", method: "GET", path: "sys/ha-status", tok: root, status: 200, audited: "sys/ha-status"},
	)

	// Metrics and profiles.
	run(
		step{name: "metrics", method: "GET", path: "sys/metrics", tok: root, status: 200, audited: "sys/metrics"},
		step{name: "pprof index", method: "GET", path: "sys/pprof", tok: root, status: 200, audited: "sys/pprof"},
		step{name: "pprof heap", method: "GET", path: "sys/pprof/heap", tok: root, status: 200, audited: "sys/pprof/heap"},
	)
	// Events: a subscription is a WebSocket; a plain GET is refused, and
	// recorded as such (internal/e2e/events_test.go streams them).
	run(step{name: "events subscribe", method: "GET", path: "sys/events/subscribe/kv*?json=true", tok: root, status: 400, audited: "sys/events/subscribe/kv*", failed: true})

	// Recovery-key rekey: this server's Shamir seal has none, and says so.
	run(
		step{name: "recovery rekey status", method: "GET", path: "sys/rekey-recovery-key/init", tok: root, status: 400, audited: "sys/rekey-recovery-key/init", failed: true},
		step{name: "recovery rekey update", method: "PUT", path: "sys/rekey-recovery-key/update", tok: root, body: map[string]any{"key": "00", "nonce": "n"}, status: 400, audited: "sys/rekey-recovery-key/update", failed: true},
	)

	// Rekey (authenticated by default): start, cancel, start, finish.
	run(
		step{name: "rekey start", method: "PUT", path: "sys/rekey/init", tok: root, body: map[string]any{"secret_shares": 1, "secret_threshold": 1}, status: 200, audited: "sys/rekey/init"},
		step{name: "rekey cancel", method: "DELETE", path: "sys/rekey/init", tok: root, status: 204, audited: "sys/rekey/init"},
	)
	nonce := str(ts.must(http.StatusOK, "PUT", "sys/rekey/init", root, map[string]any{"secret_shares": 1, "secret_threshold": 1}).body, "nonce")
	log.next()
	done := ts.checkAudited(t, log, step{name: "rekey update", method: "PUT", path: "sys/rekey/update", tok: root, body: map[string]any{"key": hex.EncodeToString(ts.unsealKey), "nonce": nonce}, status: 200, audited: "sys/rekey/update"})
	if done.body["complete"] != true {
		t.Errorf("rekey update answered %s, want it complete", done.raw)
	}

	// Generate-root (authenticated by default): status, start, cancel,
	// start, finish. The encoded token reaches the client; the audit log
	// holds it hashed.
	run(
		step{name: "generate-root status", method: "GET", path: "sys/generate-root/attempt", tok: root, status: 200, audited: "sys/generate-root/attempt"},
		step{name: "generate-root start", method: "PUT", path: "sys/generate-root/attempt", tok: root, body: map[string]any{}, status: 200, audited: "sys/generate-root/attempt"},
		step{name: "generate-root cancel", method: "DELETE", path: "sys/generate-root/attempt", tok: root, status: 204, audited: "sys/generate-root/attempt"},
		step{name: "generate-root-token start", method: "PUT", path: "sys/generate-root-token/attempt", tok: root, body: map[string]any{}, status: 200, audited: "sys/generate-root-token/attempt"},
		step{name: "generate-root-token status", method: "GET", path: "sys/generate-root-token/attempt", tok: root, status: 200, audited: "sys/generate-root-token/attempt"},
		step{name: "generate-root-token cancel", method: "DELETE", path: "sys/generate-root-token/attempt", tok: root, status: 204, audited: "sys/generate-root-token/attempt"},
	)
	// The rekey above replaced the unseal key: its new share is the one.
	newKeys, _ := done.body["keys"].([]any)
	if len(newKeys) != 1 {
		t.Fatalf("rekey answered %s, want one new key", done.raw)
	}
	// A start under one path and shares under the other are one attempt.
	gr := ts.must(http.StatusOK, "PUT", "sys/generate-root/attempt", root, map[string]any{}).body
	log.next()
	gwrong := ts.checkAudited(t, log, step{name: "generate-root-token update", method: "PUT", path: "sys/generate-root-token/update", tok: root, body: map[string]any{"key": hex.EncodeToString(ts.unsealKey), "nonce": str(gr, "nonce")}, status: 400, audited: "sys/generate-root-token/update", failed: true})
	if !strings.Contains(string(gwrong.raw), "progress has been reset") {
		t.Errorf("generate-root-token update with the old share answered %s, want the shares rejected", gwrong.raw)
	}
	gdone := ts.checkAudited(t, log, step{name: "generate-root update", method: "PUT", path: "sys/generate-root/update", tok: root, body: map[string]any{"key": newKeys[0], "nonce": str(gr, "nonce")}, status: 200, audited: "sys/generate-root/update"})
	if gdone.body["complete"] != true || str(gdone.body, "encoded_token") == "" {
		t.Errorf("generate-root update answered %s, want it complete with an encoded token", gdone.raw)
	}
	if raw, err := os.ReadFile(ts.auditPath); err != nil || strings.Contains(string(raw), str(gdone.body, "encoded_token")) || strings.Contains(string(raw), str(gr, "otp")) {
		t.Error("the audit log holds the encoded token or the OTP in clear")
	}

	// Every route that needs a token was walked here, but sys/seal, which
	// TestSealRequestIsAuditedOnce checks.
	for _, rt := range ts.srv.SysRouteTable() {
		if !rt.Open && !ts.covered[rt.Path] && rt.Path != "seal" {
			t.Errorf("route sys/%s is not checked here; add a step for it", rt.Path)
		}
	}

	// Open routes answer without a token.
	for _, st := range []step{
		{method: "GET", path: "sys/seal-status", status: 200},
		{method: "GET", path: "sys/health", status: 200},
		{method: "GET", path: "sys/init", status: 200},
		{method: "PUT", path: "sys/unseal", body: map[string]any{"reset": true}, status: 200},
		{method: "GET", path: "sys/leader", status: 200},
	} {
		if a := ts.do(st.method, st.path, "", st.body); a.status != st.status {
			t.Errorf("%s %s (open): status %d (%s), want %d", st.method, st.path, a.status, a.errors(), st.status)
		}
	}
}

// TestSealRequestIsAuditedOnce: sys/seal is a request like the others,
// recorded before it is served and its answer recorded before it is
// sent, although sealing closes the audit devices.
func TestSealRequestIsAuditedOnce(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	log := ts.audit()
	ts.checkAudited(t, log, step{name: "seal", method: "PUT", path: "sys/seal", tok: ts.root, status: 204, audited: "sys/seal"})
	if !ts.core.Sealed() {
		t.Error("sys/seal did not seal")
	}
}

// TestRefusedRequestsAreAuditedWithoutResponse: a bad token or a policy
// that denies leaves one request entry with the error and no response
// entry, for sys routes and engine paths alike.
func TestRefusedRequestsAreAuditedWithoutResponse(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	ts.policy("kvread", `path "secret/data/*" { capabilities = ["read"] }`)
	reader := ts.token("kvread")
	log := ts.audit()
	for _, st := range []step{
		{name: "bad token, sys", method: "GET", path: "sys/mounts", tok: "not-a-token", status: 403, audited: "sys/mounts"},
		{name: "bad token, kv", method: "GET", path: "secret/data/app", tok: "not-a-token", status: 403, audited: "secret/data/app"},
		{name: "no token, kv", method: "GET", path: "secret/data/app", status: 403, audited: "secret/data/app"},
		{name: "no token, sys", method: "PUT", path: "sys/policies/acl/x", body: map[string]any{"policy": "path \"*\" { capabilities = [\"sudo\"] }"}, status: 403, audited: "sys/policies/acl/x"},
		{name: "denied, sys", method: "GET", path: "sys/mounts", tok: reader, status: 403, audited: "sys/mounts"},
		{name: "denied, sys with folded name", method: "PUT", path: "sys/policies/acl/KVREAD", tok: reader, body: map[string]any{"policy": "path \"*\" { capabilities = [\"sudo\"] }"}, status: 403, audited: "sys/policies/acl/kvread"},
		{name: "denied, sudo", method: "PUT", path: "sys/seal", tok: reader, status: 403, audited: "sys/seal"},
		{name: "denied, kv write", method: "PUT", path: "secret/data/app", tok: reader, body: map[string]any{"data": map[string]any{"k": "v"}}, status: 403, audited: "secret/data/app"},
		{name: "denied, unwrap of a non-wrapping token", method: "POST", path: "sys/wrapping/unwrap", tok: reader, status: 403, audited: "sys/wrapping/unwrap"},
	} {
		ts.checkRefused(t, log, st)
	}
	if ts.core.Sealed() {
		t.Fatal("a refused sys/seal sealed the core")
	}
}

// TestHandlerErrorsAreAuditedAsResponses: a request the ACL allowed but
// the handler refused leaves a request entry and a response entry that
// carries the error.
func TestHandlerErrorsAreAuditedAsResponses(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	log := ts.audit()
	for _, st := range []step{
		{name: "empty policy", method: "PUT", path: "sys/policies/acl/empty", tok: ts.root, body: map[string]any{"policy": " "}, status: 400, audited: "sys/policies/acl/empty", failed: true},
		{name: "no such mount", method: "GET", path: "sys/mounts/nothing", tok: ts.root, status: 400, audited: "sys/mounts/nothing", failed: true},
		{name: "bad lease", method: "PUT", path: "sys/leases/lookup", tok: ts.root, body: map[string]any{"lease_id": "no/such/lease"}, status: 400, audited: "sys/leases/lookup", failed: true},
		{name: "bad wrapping token", method: "POST", path: "sys/wrapping/unwrap", tok: ts.root, body: map[string]any{"token": "nope"}, status: 400, audited: "sys/wrapping/unwrap", failed: true},
		{name: "kv version that does not exist", method: "GET", path: "secret/data/none", tok: ts.root, status: 404, audited: "secret/data/none"},
	} {
		ts.checkAudited(t, log, st)
	}
}

// TestMalformedBodiesAreAuditedAsRefused: a body that cannot be decoded
// is refused after the token was checked, and recorded as such.
func TestMalformedBodiesAreAuditedAsRefused(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	log := ts.audit()
	for _, path := range []string{"sys/policies/acl/x", "secret/data/app"} {
		req, err := http.NewRequest("PUT", ts.http.URL+"/v1/"+path, strings.NewReader("{not json"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Vault-Token", ts.root)
		resp, err := ts.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("PUT %s with a malformed body: status %d, want 400", path, resp.StatusCode)
		}
		entries := log.next()
		if len(entries) != 1 || entries[0].Type != "request" || entries[0].Error == "" || entries[0].Request.Path != path {
			t.Errorf("PUT %s with a malformed body: audit entries %+v, want one refused request", path, entries)
		}
	}
}

// TestBatchTokenCubbyholeRefusalIsAudited: a batch token has no
// cubbyhole; the refusal is recorded like any other.
func TestBatchTokenCubbyholeRefusalIsAudited(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	a := ts.must(http.StatusOK, "POST", "auth/token/create", ts.root, map[string]any{"type": "batch", "policies": []string{"default"}})
	batch := str(a.body, "auth", "client_token")
	log := ts.audit()
	// The cubbyhole engine refuses it, after the ACL let it through: the
	// request and the refusal are both recorded.
	ts.checkAudited(t, log, step{method: "GET", path: "cubbyhole/x", tok: batch, status: 400, audited: "cubbyhole/x", failed: true})
}

// TestWrappingLookupIsAudited: sys/wrapping/lookup needs no token, but
// like Vault's it is a request through the pipeline, recorded once
// before and once after.
func TestWrappingLookupIsAudited(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	w := str(ts.must(http.StatusOK, "POST", "sys/wrapping/wrap", ts.root, map[string]any{"a": "b"}).body, "wrap_info", "token")
	log := ts.audit()
	ts.checkAudited(t, log, step{method: "POST", path: "sys/wrapping/lookup", body: map[string]any{"token": w}, status: 200, audited: "sys/wrapping/lookup"})
}
