package server_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/arca-secrets/arca/server"
)

// sealedServer is a server that was unsealed (so a root token, a
// mount, a user and a wrapping token exist) and then sealed.
func sealedServer(t *testing.T, limits server.Limits) (*testServer, string) {
	t.Helper()
	ts := newTestServer(t, serverOptions{limits: limits})
	ts.must(http.StatusNoContent, "POST", "sys/auth/userpass", ts.root, map[string]any{"type": "userpass"})
	wrapping := str(ts.must(http.StatusOK, "POST", "sys/wrapping/wrap", ts.root, map[string]any{"a": "b"}).body, "wrap_info", "token")
	if err := ts.core.Seal(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ts, wrapping
}

// routePath is a request path that reaches route: a prefix route gets
// a name after it.
func routePath(route string) string {
	if strings.HasSuffix(route, "/") {
		return "sys/" + route + "name"
	}
	return "sys/" + route
}

// TestSealedEveryRouteAnswers503 iterates over the server's sys route
// table: every route that needs a token answers 503 to every method,
// with a valid root token or none, and nothing panics.
func TestSealedEveryRouteAnswers503(t *testing.T) {
	for _, unauthedRekey := range []bool{false, true} {
		t.Run(fmt.Sprintf("unauthed_rekey_and_generate_root=%v", unauthedRekey), func(t *testing.T) {
			ts, _ := sealedServer(t, server.Limits{AllowUnauthedRekey: unauthedRekey, AllowUnauthedGenerateRoot: unauthedRekey})
			routes := ts.srv.SysRouteTable()
			if len(routes) < 30 {
				t.Fatalf("the route table has %d routes; the accessor is broken", len(routes))
			}
			for _, rt := range routes {
				if rt.Open {
					continue
				}
				for _, tok := range []string{ts.root, ""} {
					for _, method := range []string{"GET", "LIST", "PUT", "POST", "DELETE", "PATCH"} {
						a := ts.do(method, routePath(rt.Path), tok, map[string]any{})
						if a.status != http.StatusServiceUnavailable {
							t.Errorf("sealed: %s %s (token %v): status %d (%s), want 503", method, routePath(rt.Path), tok != "", a.status, a.errors())
						}
					}
				}
			}
		})
	}
}

// TestSealedOpenRoutes: the routes that need no token answer their
// sealed-state bodies; those that need the keyring answer 503.
func TestSealedOpenRoutes(t *testing.T) {
	for _, unauthedRekey := range []bool{false, true} {
		t.Run(fmt.Sprintf("unauthed_rekey_and_generate_root=%v", unauthedRekey), func(t *testing.T) {
			ts, wrapping := sealedServer(t, server.Limits{AllowUnauthedRekey: unauthedRekey, AllowUnauthedGenerateRoot: unauthedRekey})
			type check struct {
				method, path string
				body         any
				status       int
				field        string // a boolean field of the body ...
				value        bool   // ... and its value
			}
			checks := map[string][]check{
				"seal-status": {{method: "GET", path: "sys/seal-status", status: 200, field: "sealed", value: true}},
				"health":      {{method: "GET", path: "sys/health", status: 503, field: "sealed", value: true}},
				"init":        {{method: "GET", path: "sys/init", status: 200, field: "initialized", value: true}, {method: "PUT", path: "sys/init", body: map[string]any{"secret_shares": 1, "secret_threshold": 1}, status: 400}},
				"unseal":      {{method: "PUT", path: "sys/unseal", body: map[string]any{"reset": true}, status: 200, field: "sealed", value: true}},
				"leader":      {{method: "GET", path: "sys/leader", status: 503}},
				// A node alone (no raft) takes no part in joins.
				"storage/raft/join":                {{method: "POST", path: "sys/storage/raft/join", body: map[string]any{"leader_api_addr": "http://127.0.0.1:1"}, status: 400}},
				"storage/raft/bootstrap/challenge": {{method: "POST", path: "sys/storage/raft/bootstrap/challenge", body: map[string]any{"server_id": "x"}, status: 400}},
				"storage/raft/bootstrap/answer":    {{method: "POST", path: "sys/storage/raft/bootstrap/answer", body: map[string]any{}, status: 400}},
				"wrapping/lookup": {
					{method: "POST", path: "sys/wrapping/lookup", body: map[string]any{"token": wrapping}, status: 503},
				},
				"rekey/init": {
					{method: "GET", path: "sys/rekey/init", status: 503},
					{method: "PUT", path: "sys/rekey/init", body: map[string]any{"secret_shares": 1, "secret_threshold": 1}, status: 503},
					{method: "DELETE", path: "sys/rekey/init", status: 503},
				},
				"rekey/update": {{method: "PUT", path: "sys/rekey/update", body: map[string]any{"key": hex.EncodeToString(ts.unsealKey), "nonce": "n"}, status: 503}},
				// A Shamir seal has no recovery keys, sealed or not.
				"rekey-recovery-key/init":   {{method: "GET", path: "sys/rekey-recovery-key/init", status: 400}},
				"rekey-recovery-key/update": {{method: "PUT", path: "sys/rekey-recovery-key/update", body: map[string]any{"key": "00", "nonce": "n"}, status: 400}},
				"generate-root/attempt": {
					{method: "GET", path: "sys/generate-root/attempt", status: 503},
					{method: "PUT", path: "sys/generate-root/attempt", body: map[string]any{}, status: 503},
					{method: "PUT", path: "sys/generate-root/attempt", body: map[string]any{"pgp_key": "x"}, status: 400},
					{method: "DELETE", path: "sys/generate-root/attempt", status: 503},
				},
				"generate-root/update": {{method: "PUT", path: "sys/generate-root/update", body: map[string]any{"key": hex.EncodeToString(ts.unsealKey), "nonce": "n"}, status: 503}},
				"generate-root-token/attempt": {
					{method: "GET", path: "sys/generate-root-token/attempt", status: 503},
					{method: "PUT", path: "sys/generate-root-token/attempt", body: map[string]any{}, status: 503},
					{method: "DELETE", path: "sys/generate-root-token/attempt", status: 503},
				},
				"generate-root-token/update": {{method: "PUT", path: "sys/generate-root-token/update", body: map[string]any{"key": hex.EncodeToString(ts.unsealKey), "nonce": "n"}, status: 503}},
			}
			for _, rt := range ts.srv.SysRouteTable() {
				if !rt.Open {
					continue
				}
				cs, ok := checks[rt.Path]
				if !ok {
					t.Errorf("open route %s has no sealed-state check here; add one", rt.Path)
					continue
				}
				for _, c := range cs {
					a := ts.do(c.method, c.path, "", c.body)
					if a.status != c.status {
						t.Errorf("sealed: %s %s: status %d (%s), want %d", c.method, c.path, a.status, a.errors(), c.status)
					}
					if c.field != "" && a.body[c.field] != c.value {
						t.Errorf("sealed: %s %s: %q is %v, want %v (body %s)", c.method, c.path, c.field, a.body[c.field], c.value, a.raw)
					}
				}
				// Any other method: refused, never a 5xx other than 503.
				for _, method := range []string{"GET", "LIST", "PUT", "DELETE", "PATCH"} {
					a := ts.do(method, routePath(rt.Path), "", map[string]any{})
					if a.status >= 500 && a.status != http.StatusServiceUnavailable {
						t.Errorf("sealed: %s %s: status %d (%s)", method, routePath(rt.Path), a.status, a.errors())
					}
				}
			}
			if !ts.core.Sealed() {
				t.Error("the core was unsealed by the checks")
			}
		})
	}
}

// TestSealedLogicalPathsAnswer503: engine paths, logins, the token API,
// the cubbyhole and paths no mount serves are all 503 when sealed.
func TestSealedLogicalPathsAnswer503(t *testing.T) {
	ts, _ := sealedServer(t, server.Limits{})
	for _, c := range []struct{ method, path, tok string }{
		{"GET", "secret/data/app", ts.root},
		{"PUT", "secret/data/app", ts.root},
		{"LIST", "secret/metadata", ts.root},
		{"GET", "secret/data/app", ""},
		{"POST", "auth/userpass/login/bob", ""},
		{"GET", "auth/token/lookup-self", ts.root},
		{"POST", "auth/token/create", ts.root},
		{"GET", "cubbyhole/x", ts.root},
		{"GET", "no/such/mount", ts.root},
		{"DELETE", "secret/metadata/app", ts.root},
	} {
		a := ts.do(c.method, c.path, c.tok, map[string]any{"password": "x"})
		if a.status != http.StatusServiceUnavailable {
			t.Errorf("sealed: %s %s: status %d (%s), want 503", c.method, c.path, a.status, a.errors())
		}
	}
	// With a wrap TTL asked for, too.
	a := ts.doHeaders("GET", "secret/data/app", ts.root, nil, map[string]string{"X-Vault-Wrap-TTL": "5m"})
	if a.status != http.StatusServiceUnavailable {
		t.Errorf("sealed: wrapped read: status %d (%s), want 503", a.status, a.errors())
	}
}
