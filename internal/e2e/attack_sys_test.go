package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/openbao/openbao/api/v2"
)

// uiMounts reads sys/internal/ui/mounts with tok and returns the secret
// and auth mount paths it shows.
func uiMounts(t *testing.T, addr, tok string) (secret, auth map[string]any) {
	t.Helper()
	code, body := rawRequest(t, addr, tok, "GET", "/v1/sys/internal/ui/mounts", nil)
	if code != http.StatusOK {
		t.Fatalf("GET sys/internal/ui/mounts: %d %s", code, body)
	}
	var out struct {
		Data struct {
			Secret map[string]any `json:"secret"`
			Auth   map[string]any `json:"auth"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	return out.Data.Secret, out.Data.Auth
}

// TestAttackUIMountsShowOnlyUsable: a default-policy token with access
// under secret/ sees secret/ and not the mounts it cannot use, in the
// list and one by one, however it spells them.
func TestAttackUIMountsShowOnlyUsable(t *testing.T) {
	p, root := startDev(t, "root")
	for path, typ := range map[string]string{"kv-private": "kv-v2", "transit": "transit", "kv-shared": "kv-v2"} {
		if err := root.Sys().Mount(path, &api.MountInput{Type: typ}); err != nil {
			t.Fatal(err)
		}
	}
	if err := root.Sys().EnableAuthWithOptions("userpass", &api.EnableAuthOptions{Type: "userpass"}); err != nil {
		t.Fatal(err)
	}
	putPolicy(t, root, "app", `path "secret/data/app/*" { capabilities = ["read"] }`)
	tok := childToken(t, root, "app")

	secret, auth := uiMounts(t, p.addr, tok)
	if secret["secret/"] == nil {
		t.Errorf("ui/mounts hides secret/, which the token can read under: %v", secret)
	}
	// sys/ is shown: the default policy grants paths under it.
	for _, hidden := range []string{"kv-private/", "transit/", "kv-shared/"} {
		if secret[hidden] != nil {
			t.Errorf("ui/mounts shows %s to a token without any capability under it", hidden)
		}
	}
	if auth["userpass/"] != nil {
		t.Errorf("ui/mounts shows auth/userpass/ to a token without any capability under it")
	}
	for _, tc := range []struct{ path string }{
		{"/v1/sys/internal/ui/mounts/kv-private"},
		{"/v1/sys/internal/ui/mounts/kv-private/"},
		{"/v1/sys/internal/ui/mounts/kv-private/data/x"},
		{"/v1/sys/internal/ui/mounts/transit"},
		{"/v1/sys/internal/ui/mounts/transit/keys/k"},
		{"/v1/sys/internal/ui/mounts/auth/userpass"},
		{"/v1/sys/internal/ui/mounts/KV-PRIVATE"},
		{"/v1/sys/internal/ui/mounts/%6Bv-private"},
		{"/v1/sys/internal/ui/mounts/secret/../kv-private"},
		{"/v1/sys/internal/ui/mounts/secret/%2E%2E/kv-private"},
		{"/v1/sys/internal/ui/mounts//kv-private"},
		{"/v1/sys/internal/ui/mounts/nonexistent"},
	} {
		for _, method := range []string{"GET", "HEAD"} {
			code, body := rawRequest(t, p.addr, tok, method, tc.path, nil)
			if served(code) || strings.Contains(body, "accessor") {
				t.Errorf("%s %s with a default-policy token: got %d %s, want a refusal", method, tc.path, code, body)
			}
		}
	}
	code, body := rawRequest(t, p.addr, tok, "GET", "/v1/sys/internal/ui/mounts/secret", nil)
	if code != http.StatusOK || !strings.Contains(body, `"path":"secret/"`) {
		t.Fatalf("GET sys/internal/ui/mounts/secret with access under it: %d %s, want 200", code, body)
	}
	if code, body := rawRequest(t, p.addr, tok, "LIST", "/v1/sys/internal/ui/mounts", nil); served(code) && strings.Contains(body, "kv-private") {
		t.Errorf("LIST sys/internal/ui/mounts shows kv-private: %d %s", code, body)
	}
	if code, body := rawRequest(t, p.addr, "", "GET", "/v1/sys/internal/ui/mounts", nil); code != http.StatusForbidden {
		t.Errorf("GET sys/internal/ui/mounts without a token: %d %s, want 403", code, body)
	}
}

// TestAttackUIMountsDenyUnderGlob: a token allowed "kv-*" but denied
// everything under kv-private has no capability under kv-private/, so
// ui/mounts must not show it (a broad glob above a deny is not access).
func TestAttackUIMountsDenyUnderGlob(t *testing.T) {
	p, root := startDev(t, "root")
	for _, path := range []string{"kv-private", "kv-shared"} {
		if err := root.Sys().Mount(path, &api.MountInput{Type: "kv-v2"}); err != nil {
			t.Fatal(err)
		}
	}
	putPolicy(t, root, "kvs", `path "kv-*" { capabilities = ["read", "list"] }
path "kv-private*" { capabilities = ["deny"] }
`)
	tok := childToken(t, root, "kvs")
	caps, err := tokenClient(t, root, tok).Sys().CapabilitiesSelf("kv-private/data/x")
	if err != nil || strings.Join(caps, ",") != "deny" {
		t.Fatalf("capabilities on kv-private/data/x: %v, %v; want deny", caps, err)
	}
	secret, _ := uiMounts(t, p.addr, tok)
	if secret["kv-shared/"] == nil {
		t.Errorf("ui/mounts hides kv-shared/, which the token can read: %v", secret)
	}
	if secret["kv-private/"] != nil {
		t.Errorf("ui/mounts shows kv-private/ to a token denied everything under it: %v", secret["kv-private/"])
	}
	if code, body := rawRequest(t, p.addr, tok, "GET", "/v1/sys/internal/ui/mounts/kv-private", nil); code != http.StatusForbidden {
		t.Errorf("GET sys/internal/ui/mounts/kv-private with everything under it denied: %d %s, want 403", code, body)
	}
}

// TestAttackUnwrapIsAudited: sys/wrapping/unwrap writes one request and
// one response entry, with the wrapping token in X-Vault-Token or in the
// body.
func TestAttackUnwrapIsAudited(t *testing.T) {
	p, root, logPath, _ := startListener(t)
	wrapper := wrappingClient(t, root, root.Token())
	wrap := func() string {
		t.Helper()
		s, err := wrapper.Logical().Write("sys/wrapping/wrap", map[string]any{"pw": "unwrap-me"})
		if err != nil || s.WrapInfo == nil {
			t.Fatalf("wrap: %+v, %v", s, err)
		}
		return s.WrapInfo.Token
	}
	other := childToken(t, root)
	for _, tc := range []struct {
		name        string
		token, body func(w string) string
	}{
		{"token in header", func(w string) string { return w }, func(string) string { return "" }},
		{"token in body", func(string) string { return other }, func(w string) string { return `{"token":"` + w + `"}` }},
		{"bearer", func(string) string { return "" }, func(string) string { return "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := wrap()
			mark := len(readAudit(t, logPath))
			req, err := http.NewRequest("POST", "http://"+p.addr+"/v1/sys/wrapping/unwrap", strings.NewReader(tc.body(w)))
			if err != nil {
				t.Fatal(err)
			}
			if tok := tc.token(w); tok != "" {
				req.Header.Set("X-Vault-Token", tok)
			} else {
				req.Header.Set("Authorization", "Bearer "+w)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var out struct {
				Data map[string]any `json:"data"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || out.Data["pw"] != "unwrap-me" {
				t.Fatalf("unwrap: %d %v", resp.StatusCode, out)
			}
			entries := readAudit(t, logPath)
			reqs, resps := auditCounts(entries, mark, "sys/wrapping/unwrap")
			if reqs != 1 || resps != 1 {
				t.Fatalf("unwrap wrote %d request and %d response entries, want 1 and 1; new entries: %+v", reqs, resps, entries[mark:])
			}
			if strings.Contains(mustRead(t, logPath), "unwrap-me") {
				t.Fatal("the audit log holds the unwrapped secret in clear")
			}
		})
	}
}

// TestAttackUnauthedRekey: by default sys/rekey/* needs a token with
// sudo; a listener with disable_unauthed_rekey_endpoints = false serves
// it without one, as Vault does.
func TestAttackUnauthedRekey(t *testing.T) {
	const initBody = `{"secret_shares":1,"secret_threshold":1}`
	t.Run("default", func(t *testing.T) {
		p, root, _, _ := startListener(t)
		putPolicy(t, root, "rekeyer", `path "sys/rekey/*" { capabilities = ["create", "read", "update", "delete"] }`)
		nosudo := childToken(t, root, "rekeyer")
		for _, tok := range []string{"", nosudo, "s.bogus"} {
			for _, tc := range []struct{ method, path, body string }{
				{"PUT", "/v1/sys/rekey/init", initBody},
				{"POST", "/v1/sys/rekey/init/", initBody},
				{"GET", "/v1/sys/rekey/init", ""},
				{"DELETE", "/v1/sys/rekey/init", ""},
				{"PUT", "/v1/sys/rekey/update", `{"key":"AAAA","nonce":"x"}`},
				{"PUT", "/v1/sys/generate-root/attempt", `{}`},
				{"GET", "/v1/sys/generate-root/attempt", ""},
			} {
				code, body := rawRequest(t, p.addr, tok, tc.method, tc.path, strings.NewReader(tc.body))
				if code != http.StatusForbidden {
					t.Errorf("%s %s with token %q: got %d %s, want 403", tc.method, tc.path, tok, code, body)
				}
			}
		}
		code, body := rawRequest(t, p.addr, root.Token(), "PUT", "/v1/sys/rekey/init", strings.NewReader(initBody))
		if code != http.StatusOK || !strings.Contains(body, `"started":true`) {
			t.Fatalf("rekey init with the root token: %d %s, want 200 started", code, body)
		}
		if code, body := rawRequest(t, p.addr, "", "GET", "/v1/sys/rekey/init", nil); code != http.StatusForbidden {
			t.Fatalf("rekey status without a token during a rekey: %d %s, want 403", code, body)
		}
		if code, body := rawRequest(t, p.addr, root.Token(), "DELETE", "/v1/sys/rekey/init", nil); !served(code) {
			t.Fatalf("rekey cancel with the root token: %d %s", code, body)
		}
	})
	t.Run("opt in", func(t *testing.T) {
		p, _, _, _ := startListener(t, "disable_unauthed_rekey_endpoints = false")
		code, body := rawRequest(t, p.addr, "", "PUT", "/v1/sys/rekey/init", strings.NewReader(initBody))
		if code != http.StatusOK || !strings.Contains(body, `"started":true`) {
			t.Fatalf("rekey init without a token on an opted-in listener: %d %s, want 200 started", code, body)
		}
		if code, body := rawRequest(t, p.addr, "", "GET", "/v1/sys/rekey/init", nil); code != http.StatusOK {
			t.Fatalf("rekey status without a token on an opted-in listener: %d %s, want 200", code, body)
		}
	})
}

// TestAttackSealedSysRefused: once sealed, every authenticated sys family
// (and the open wrapping lookup) answers 503, even to the root token.
func TestAttackSealedSysRefused(t *testing.T) {
	p, root, _, key := startListener(t)
	tok := root.Token()
	if err := root.Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/v1/sys/mounts", ""},
		{"POST", "/v1/sys/mounts/x", `{"type":"kv"}`},
		{"GET", "/v1/sys/auth", ""},
		{"LIST", "/v1/sys/policies/acl", ""},
		{"GET", "/v1/sys/policies/acl/default", ""},
		{"PUT", "/v1/sys/policies/acl/x", `{"policy":"path \"a\" { capabilities = [\"read\"] }"}`},
		{"GET", "/v1/sys/policy", ""},
		{"LIST", "/v1/sys/policies/password", ""},
		{"GET", "/v1/sys/internal/ui/mounts", ""},
		{"GET", "/v1/sys/internal/ui/mounts/secret", ""},
		{"POST", "/v1/sys/wrapping/unwrap", `{"token":"x"}`},
		{"POST", "/v1/sys/wrapping/wrap", `{"a":"b"}`},
		{"POST", "/v1/sys/wrapping/lookup", `{"token":"x"}`},
		{"PUT", "/v1/sys/leases/lookup", `{"lease_id":"x"}`},
		{"LIST", "/v1/sys/leases/lookup/x/", ""},
		{"PUT", "/v1/sys/leases/revoke-prefix/x", ""},
		{"GET", "/v1/sys/audit", ""},
		{"PUT", "/v1/sys/audit-hash/main", `{"input":"x"}`},
		{"POST", "/v1/sys/capabilities-self", `{"paths":["secret/x"]}`},
		{"POST", "/v1/sys/capabilities", `{"token":"x","paths":["secret/x"]}`},
		{"GET", "/v1/sys/key-status", ""},
		{"POST", "/v1/sys/rotate", ""},
		{"PUT", "/v1/sys/rekey/init", `{"secret_shares":1,"secret_threshold":1}`},
		{"GET", "/v1/auth/token/lookup-self", ""},
		{"GET", "/v1/cubbyhole/x", ""},
	} {
		code, body := rawRequest(t, p.addr, tok, tc.method, tc.path, strings.NewReader(tc.body))
		if code != http.StatusServiceUnavailable {
			t.Errorf("sealed: %s %s: got %d %s, want 503", tc.method, tc.path, code, body)
		}
	}
	unseal(t, root, key)
	if _, err := root.Sys().ListMounts(); err != nil {
		t.Fatalf("after unseal: %v", err)
	}
}

// sysAuditCase is one sys request and the path its audit entries carry.
type sysAuditCase struct {
	name, method, path, body, auditPath string
}

// checkAuditedOnce sends tc with tok and checks it wrote exactly one
// request and one response entry, with the same id.
func checkAuditedOnce(t *testing.T, addr, tok, logPath string, tc sysAuditCase) {
	t.Helper()
	mark := len(readAudit(t, logPath))
	code, body := rawRequest(t, addr, tok, tc.method, tc.path, strings.NewReader(tc.body))
	if code >= 500 || code == http.StatusForbidden || code == http.StatusMethodNotAllowed {
		t.Fatalf("%s %s as root: %d %s", tc.method, tc.path, code, body)
	}
	entries := readAudit(t, logPath)[mark:]
	reqs, resps := auditCounts(entries, 0, tc.auditPath)
	if reqs != 1 || resps != 1 || len(entries) != 2 {
		t.Fatalf("%s %s (%d) wrote %d request and %d response entries for %s, %d in all; want 1, 1, 2: %+v", tc.method, tc.path, code, reqs, resps, tc.auditPath, len(entries), entries)
	}
	if entries[0].Type != "request" || entries[1].Type != "response" || entries[0].Request.ID != entries[1].Request.ID {
		t.Fatalf("entries out of order or with different ids: %+v", entries)
	}
}

// TestAttackSysRequestsAudited: each authenticated sys request writes
// exactly one request and one response entry, with the same id.
func TestAttackSysRequestsAudited(t *testing.T) {
	p, root, logPath, _ := startListener(t)
	tok := root.Token()
	if err := root.Sys().Mount("secret", &api.MountInput{Type: "kv-v2"}); err != nil {
		t.Fatal(err)
	}
	s, err := root.KVv2("secret").Put(t.Context(), "x", map[string]any{"a": "b"})
	if err != nil || s == nil {
		t.Fatal(err)
	}
	wrapper := wrappingClient(t, root, tok)
	wrapped := func() string {
		w, err := wrapper.Logical().Write("sys/wrapping/wrap", map[string]any{"k": "v"})
		if err != nil {
			t.Fatal(err)
		}
		return w.WrapInfo.Token
	}
	for _, tc := range []sysAuditCase{
		{"mounts", "GET", "/v1/sys/mounts", "", "sys/mounts"},
		{"mount tune read", "GET", "/v1/sys/mounts/secret/tune", "", "sys/mounts/secret/tune"},
		{"auth list", "GET", "/v1/sys/auth", "", "sys/auth"},
		{"policy list", "LIST", "/v1/sys/policies/acl", "", "sys/policies/acl/"},
		{"policy read", "GET", "/v1/sys/policies/acl/default", "", "sys/policies/acl/default"},
		{"policy write", "PUT", "/v1/sys/policies/acl/Audited", `{"policy":"path \"a\" { capabilities = [\"read\"] }"}`, "sys/policies/acl/audited"},
		{"policy delete", "DELETE", "/v1/sys/policies/acl/audited", "", "sys/policies/acl/audited"},
		{"legacy policy", "GET", "/v1/sys/policy", "", "sys/policy"},
		{"audit list", "GET", "/v1/sys/audit", "", "sys/audit"},
		{"audit hash", "PUT", "/v1/sys/audit-hash/main", `{"input":"x"}`, "sys/audit-hash/main"},
		{"lease lookup", "PUT", "/v1/sys/leases/lookup", `{"lease_id":"secret/none"}`, "sys/leases/lookup"},
		{"lease list", "LIST", "/v1/sys/leases/lookup/secret/", "", "sys/leases/lookup/secret/"},
		{"capabilities-self", "POST", "/v1/sys/capabilities-self", `{"paths":["secret/data/x"]}`, "sys/capabilities-self"},
		{"capabilities", "POST", "/v1/sys/capabilities", `{"token":"` + tok + `","paths":["secret/data/x"]}`, "sys/capabilities"},
		{"wrap", "POST", "/v1/sys/wrapping/wrap", `{"a":"b"}`, "sys/wrapping/wrap"},
		{"rewrap", "POST", "/v1/sys/wrapping/rewrap", `{"token":"` + wrapped() + `"}`, "sys/wrapping/rewrap"},
		{"unwrap", "POST", "/v1/sys/wrapping/unwrap", `{"token":"` + wrapped() + `"}`, "sys/wrapping/unwrap"},
		{"ui mounts", "GET", "/v1/sys/internal/ui/mounts", "", "sys/internal/ui/mounts"},
		{"ui mount", "GET", "/v1/sys/internal/ui/mounts/secret", "", "sys/internal/ui/mounts/secret"},
		{"key status", "GET", "/v1/sys/key-status", "", "sys/key-status"},
		{"password policies", "LIST", "/v1/sys/policies/password", "", "sys/policies/password/"},
	} {
		t.Run(tc.name, func(t *testing.T) { checkAuditedOnce(t, p.addr, tok, logPath, tc) })
	}
}

// TestAttackWrappingLookupAudited: sys/wrapping/lookup tells anyone who
// holds a wrapping token its creation path, time and TTL; like unwrap it
// must leave one request and one response entry, with or without a
// token of the caller's own.
func TestAttackWrappingLookupAudited(t *testing.T) {
	p, root, logPath, _ := startListener(t)
	wrapper := wrappingClient(t, root, root.Token())
	for _, tok := range []string{root.Token(), ""} {
		w, err := wrapper.Logical().Write("sys/wrapping/wrap", map[string]any{"k": "v"})
		if err != nil {
			t.Fatal(err)
		}
		checkAuditedOnce(t, p.addr, tok, logPath, sysAuditCase{"wrapping lookup", "POST", "/v1/sys/wrapping/lookup", `{"token":"` + w.WrapInfo.Token + `"}`, "sys/wrapping/lookup"})
	}
}

// TestAttackAuditHoldsNoTokens: the tokens that pass through the
// wrapping endpoints (wrapping tokens, a wrapped token, the caller's)
// appear in the audit log only as HMACs.
func TestAttackAuditHoldsNoTokens(t *testing.T) {
	_, root, logPath, _ := startListener(t)
	wrapper := wrappingClient(t, root, root.Token())
	created, err := wrapper.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"default"}})
	if err != nil || created.WrapInfo == nil {
		t.Fatalf("wrapped token create: %+v, %v", created, err)
	}
	w, err := wrapper.Logical().Write("sys/wrapping/wrap", map[string]any{"k": "wrapped-value-4242"})
	if err != nil {
		t.Fatal(err)
	}
	rw, err := root.Logical().Write("sys/wrapping/rewrap", map[string]any{"token": w.WrapInfo.Token})
	if err != nil || rw.WrapInfo == nil {
		t.Fatalf("rewrap: %+v, %v", rw, err)
	}
	u, err := root.Logical().Unwrap(created.WrapInfo.Token)
	if err != nil || u.Auth == nil {
		t.Fatalf("unwrap of the token: %+v, %v", u, err)
	}
	if _, err := tokenClient(t, root, rw.WrapInfo.Token).Logical().Unwrap(""); err != nil {
		t.Fatalf("unwrap with the wrapping token in the header: %v", err)
	}
	raw := mustRead(t, logPath)
	for name, v := range map[string]string{
		"root token":              root.Token(),
		"wrapping token (create)": created.WrapInfo.Token,
		"wrapping token (wrap)":   w.WrapInfo.Token,
		"wrapping token (rewrap)": rw.WrapInfo.Token,
		"unwrapped token":         u.Auth.ClientToken,
		"wrapped value":           "wrapped-value-4242",
	} {
		if strings.Contains(raw, v) {
			t.Errorf("the audit log holds the %s in clear", name)
		}
	}
}

// wrappingClient is a client of root's server with token tok that asks
// for every answer wrapped for five minutes.
func wrappingClient(t *testing.T, root *api.Client, tok string) *api.Client {
	t.Helper()
	c, err := root.Clone()
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(tok)
	c.SetWrappingLookupFunc(func(string, string) string { return "5m" })
	return c
}
