package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// genRootServer starts a server with two listeners: addr with the
// default limits (generate-root needs a token with sudo) and openAddr with
// disable_unauthed_generate_root_endpoints = false. It initialises (3
// shares, threshold 2) and unseals it through the CLI.
func genRootServer(t *testing.T) (addr, openAddr string, keys []string, root string) {
	t.Helper()
	addr, openAddr = freeAddr(t), freeAddr(t)
	conf := writeConfig(t, addr, `storage "inmem" {}`, "disable_mlock = true", fmt.Sprintf(`listener "tcp" {
  address = %q
  tls_disable = true
  disable_unauthed_generate_root_endpoints = false
}`, openAddr))
	startArca(t, addr, "-config="+conf)
	if !eventually(30*time.Second, func() bool { _, err := plainGet(openAddr); return err == nil }) {
		t.Fatalf("the second listener %s does not answer", openAddr)
	}
	env := []string{"ARCA_ADDR=http://" + addr}
	init := arca(t, env, "", "operator", "init", "-key-shares=3", "-key-threshold=2", "-format=json")
	init.must(t, 0)
	var out struct {
		Keys      []string `json:"unseal_keys_b64"`
		RootToken string   `json:"root_token"`
	}
	if err := json.Unmarshal([]byte(init.stdout), &out); err != nil || len(out.Keys) != 3 {
		t.Fatalf("init: %v %s", err, init.stdout)
	}
	arca(t, env, "", "operator", "unseal", out.Keys[0]).must(t, 0)
	arca(t, env, "", "operator", "unseal", out.Keys[1]).must(t, 0)
	arca(t, env, "", "status").must(t, 0)
	return addr, openAddr, out.Keys, out.RootToken
}

// genRootStatus is what the CLI prints with -format=json.
type genRootStatus struct {
	Nonce        string `json:"nonce"`
	Started      bool   `json:"started"`
	Progress     int    `json:"progress"`
	Required     int    `json:"required"`
	Complete     bool   `json:"complete"`
	EncodedToken string `json:"encoded_token"`
	OTP          string `json:"otp"`
	OTPLength    int    `json:"otp_length"`
}

func parseGenRoot(t *testing.T, r cliResult) genRootStatus {
	t.Helper()
	r.must(t, 0)
	var st genRootStatus
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("generate-root output: %v\n%s", err, r.stdout)
	}
	return st
}

// corrupt returns a well-formed share that is not the original: its first
// byte flipped.
func corrupt(t *testing.T, share string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(share)
	if err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	return base64.StdEncoding.EncodeToString(b)
}

// TestGenerateRootAfterRevokingRoot revokes the only root token, then
// makes a new one with the CLI on the listener that opted in to serving
// generate-root without a token: a wrong share resets the progress, an
// attempt is canceled, a second start is refused, and the decoded token
// works and is root. The default listener refuses the same requests
// without a token.
func TestGenerateRootAfterRevokingRoot(t *testing.T) {
	addr, openAddr, keys, root := genRootServer(t)
	env := []string{"ARCA_ADDR=http://" + addr}
	open := []string{"ARCA_ADDR=http://" + openAddr}

	arca(t, append(env, "ARCA_TOKEN="+root), "", "token", "revoke", "-self").must(t, 0)
	arca(t, append(env, "ARCA_TOKEN="+root), "", "token", "lookup").must(t, 1, "permission denied")

	// By default generate-root needs a token with sudo.
	for _, tc := range []struct{ method, path, body string }{
		{"PUT", "/v1/sys/generate-root/attempt", `{}`},
		{"GET", "/v1/sys/generate-root/attempt", ""},
		{"DELETE", "/v1/sys/generate-root/attempt", ""},
		{"PUT", "/v1/sys/generate-root/update", `{"key":"AAAA","nonce":"x"}`},
	} {
		if code, body := rawRequest(t, addr, "", tc.method, tc.path, strings.NewReader(tc.body)); code != http.StatusForbidden {
			t.Errorf("%s %s without a token on the default listener: %d %s, want 403", tc.method, tc.path, code, body)
		}
	}
	arca(t, env, "", "operator", "generate-root", "-init").must(t, 1, "permission denied")
	if code, body := rawRequest(t, openAddr, "", "PUT", "/v1/sys/generate-root/attempt", strings.NewReader(`{"pgp_key":"mQENBF"}`)); code != http.StatusBadRequest || !strings.Contains(body, "pgp_key is not supported") {
		t.Fatalf("a pgp_key: %d %s, want 400 saying it is not supported", code, body)
	}
	arca(t, open, "", "operator", "generate-root", "-init", "-pgp-key=keybase:someone").must(t, 2, "-pgp-key is not supported")

	// Start, cancel, start again; a second start is refused.
	st := parseGenRoot(t, arca(t, open, "", "operator", "generate-root", "-init", "-format=json"))
	if !st.Started || st.Required != 2 || st.OTP == "" || len(st.OTP) != st.OTPLength {
		t.Fatalf("init: %+v; want started, required 2, an OTP of otp_length", st)
	}
	arca(t, open, "", "operator", "generate-root", keys[2]).must(t, 0, "Progress", "1/2")
	arca(t, open, "", "operator", "generate-root", "-cancel").must(t, 0, "canceled")
	arca(t, open, "", "operator", "generate-root", "-status").must(t, 0, "Started", "false")
	arca(t, open, "", "operator", "generate-root", keys[0]).must(t, 2, "No root token generation is in progress")

	otp := strings.TrimSpace(arca(t, open, "", "operator", "generate-root", "-generate-otp").stdout)
	st = parseGenRoot(t, arca(t, open, "", "operator", "generate-root", "-init", "-otp="+otp, "-format=json"))
	if !st.Started || st.OTP != "" {
		t.Fatalf("init with -otp: %+v; want started, the OTP not echoed", st)
	}
	arca(t, open, "", "operator", "generate-root", "-init").must(t, 1, "already in progress")

	// A wrong share at the threshold resets the progress, not the attempt.
	arca(t, open, "", "operator", "generate-root", keys[0]).must(t, 0, "1/2")
	arca(t, open, "", "operator", "generate-root", corrupt(t, keys[1])).must(t, 1, "progress has been reset")
	again := parseGenRoot(t, arca(t, open, "", "operator", "generate-root", "-status", "-format=json"))
	if again.Progress != 0 || !again.Started || again.Nonce != st.Nonce {
		t.Fatalf("after a wrong share: %+v; want the same attempt with progress 0", again)
	}

	// The share on stdin, the nonce given: done.
	arca(t, open, "", "operator", "generate-root", "-nonce="+st.Nonce, keys[2]).must(t, 0, "1/2")
	done := parseGenRoot(t, arca(t, open, keys[1]+"\n", "operator", "generate-root", "-format=json"))
	if !done.Complete || done.EncodedToken == "" {
		t.Fatalf("last share: %+v; want complete with an encoded token", done)
	}
	arca(t, open, "", "operator", "generate-root", "-decode="+done.EncodedToken, "-otp=AAAA").must(t, 2, "OTP")
	dec := arca(t, open, "", "operator", "generate-root", "-decode="+done.EncodedToken, "-otp="+otp)
	dec.must(t, 0)
	newRoot := strings.TrimSpace(dec.stdout)
	fromStdin := arca(t, open, done.EncodedToken+"\n", "operator", "generate-root", "-decode=-", "-otp="+otp)
	if fromStdin.must(t, 0); strings.TrimSpace(fromStdin.stdout) != newRoot {
		t.Fatalf("-decode=- gave %q, want %q", fromStdin.stdout, newRoot)
	}

	// The new token is root: it looks itself up with the root policy and
	// does what needs sudo.
	withNew := append(env, "ARCA_TOKEN="+newRoot)
	arca(t, withNew, "", "token", "lookup").must(t, 0, `["root"]`, "auth/token/root")
	arca(t, withNew, "", "operator", "rotate").must(t, 0, "Success! Rotated key")
	// And with it, generate-root on the default listener works too.
	arca(t, withNew, "", "operator", "generate-root", "-status").must(t, 0, "Started", "false")
}
