package server_test

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"testing"

	"github.com/arca-secrets/arca/core/genroot"
	"github.com/arca-secrets/arca/server"
)

// TestGenerateRootRoutes: by default generate-root needs a token with
// sudo; a listener that opts in serves it without one. Either way the
// share that completes it gets a token encoded with the OTP, which
// decodes to a working root token, and a PGP key is refused.
func TestGenerateRootRoutes(t *testing.T) {
	for _, open := range []bool{false, true} {
		t.Run(fmt.Sprintf("unauthed=%v", open), func(t *testing.T) {
			ts := newTestServer(t, serverOptions{limits: server.Limits{AllowUnauthedGenerateRoot: open}})
			ts.policy("genroot", `path "sys/generate-root*" { capabilities = ["create", "read", "update", "delete", "list"] }`)
			nosudo := ts.token("genroot")
			for _, path := range []string{"sys/generate-root/attempt", "sys/generate-root-token/attempt"} {
				for _, tok := range []string{"", nosudo, "s.bogus"} {
					a := ts.do("PUT", path, tok, map[string]any{})
					want := http.StatusForbidden
					if open {
						// Open routes do not look at the token at all.
						want = http.StatusOK
					}
					if a.status != want {
						t.Fatalf("start at %s with token %q: status %d (%s), want %d", path, tok, a.status, a.errors(), want)
					}
					if open {
						ts.must(http.StatusNoContent, "DELETE", path, "", nil)
					}
				}
			}
			tok := ts.root
			if open {
				tok = ""
			}
			if a := ts.do("PUT", "sys/generate-root/attempt", tok, map[string]any{"pgp_key": "mQENBF..."}); a.status != http.StatusBadRequest {
				t.Fatalf("start with a pgp_key: status %d (%s), want 400", a.status, a.errors())
			}
			otp, err := genroot.NewOTP()
			if err != nil {
				t.Fatal(err)
			}
			st := ts.must(http.StatusOK, "PUT", "sys/generate-root/attempt", tok, map[string]any{"otp": otp}).body
			if st["started"] != true || st["otp"] != "" || st["otp_length"] != float64(genroot.OTPLength) || st["required"] != float64(1) {
				t.Fatalf("start: %v; want started, no OTP echoed, otp_length %d, required 1", st, genroot.OTPLength)
			}
			if a := ts.do("PUT", "sys/generate-root/attempt", tok, map[string]any{}); a.status != http.StatusBadRequest {
				t.Fatalf("a second start: status %d (%s), want 400", a.status, a.errors())
			}
			if a := ts.do("PUT", "sys/generate-root/update", tok, map[string]any{"key": hex.EncodeToString(ts.unsealKey), "nonce": "other"}); a.status != http.StatusBadRequest {
				t.Fatalf("a wrong nonce: status %d (%s), want 400", a.status, a.errors())
			}
			done := ts.must(http.StatusOK, "PUT", "sys/generate-root/update", tok, map[string]any{"key": hex.EncodeToString(ts.unsealKey), "nonce": st["nonce"]}).body
			if done["complete"] != true || done["encoded_token"] != done["encoded_root_token"] {
				t.Fatalf("update: %v; want complete, the token in both fields", done)
			}
			id, err := genroot.Decode(str(done, "encoded_token"), otp)
			if err != nil {
				t.Fatal(err)
			}
			self := ts.must(http.StatusOK, "GET", "auth/token/lookup-self", id, nil).body
			if pols := fmt.Sprint(self["data"].(map[string]any)["policies"]); pols != "[root]" {
				t.Fatalf("the new token's policies: %s, want [root]", pols)
			}
			ts.must(http.StatusNoContent, "PUT", "sys/rotate", id, nil) // sudo
		})
	}
}
