package e2e

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/openbao/openbao/api/v2"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestTransitThroughOpenBaoClient(t *testing.T) {
	_, c := startDev(t, "root")
	if err := c.Sys().Mount("transit", &api.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	w := func(path string, data map[string]any) *api.Secret {
		t.Helper()
		s, err := c.Logical().Write(path, data)
		if err != nil {
			t.Fatalf("write %s: %v", path, err)
		}
		return s
	}
	// Round trip for every key type.
	for _, typ := range []string{"aes256-gcm96", "chacha20-poly1305"} {
		w("transit/keys/"+typ, map[string]any{"type": typ})
		ct := w("transit/encrypt/"+typ, map[string]any{"plaintext": b64("hello " + typ)}).Data["ciphertext"].(string)
		if !strings.HasPrefix(ct, "vault:v1:") {
			t.Fatalf("%s ciphertext %q", typ, ct)
		}
		pt := w("transit/decrypt/"+typ, map[string]any{"ciphertext": ct}).Data["plaintext"].(string)
		if pt != b64("hello "+typ) {
			t.Fatalf("%s round trip: %q", typ, pt)
		}
	}
	for _, typ := range []string{"ed25519", "ecdsa-p256", "ecdsa-p384", "rsa-2048"} {
		w("transit/keys/"+typ, map[string]any{"type": typ})
		for _, algo := range []string{"pss", "pkcs1v15"} {
			if algo == "pkcs1v15" && !strings.HasPrefix(typ, "rsa") {
				continue
			}
			sig := w("transit/sign/"+typ, map[string]any{"input": b64("msg"), "signature_algorithm": algo}).Data["signature"].(string)
			ok := w("transit/verify/"+typ, map[string]any{"input": b64("msg"), "signature": sig, "signature_algorithm": algo}).Data["valid"]
			bad := w("transit/verify/"+typ, map[string]any{"input": b64("other"), "signature": sig, "signature_algorithm": algo}).Data["valid"]
			if ok != true || bad != false {
				t.Fatalf("%s/%s verify: good=%v other=%v", typ, algo, ok, bad)
			}
		}
	}
	w("transit/keys/mac", map[string]any{"type": "hmac"})
	mac := w("transit/hmac/mac", map[string]any{"input": b64("data")}).Data["hmac"].(string)
	if w("transit/verify/mac", map[string]any{"input": b64("data"), "hmac": mac}).Data["valid"] != true {
		t.Fatal("hmac verify failed")
	}
	// A signature from another key does not verify.
	other := w("transit/sign/ecdsa-p256", map[string]any{"input": b64("msg")}).Data["signature"].(string)
	w("transit/keys/ecdsa-b", map[string]any{"type": "ecdsa-p256"})
	if w("transit/verify/ecdsa-b", map[string]any{"input": b64("msg"), "signature": other}).Data["valid"] != false {
		t.Fatal("a signature from another key verified")
	}

	// Rotate, rewrap, min_decryption_version.
	old := w("transit/encrypt/aes256-gcm96", map[string]any{"plaintext": b64("v1 data")}).Data["ciphertext"].(string)
	w("transit/keys/aes256-gcm96/rotate", nil)
	rw := w("transit/rewrap/aes256-gcm96", map[string]any{"ciphertext": old}).Data["ciphertext"].(string)
	if !strings.HasPrefix(rw, "vault:v2:") {
		t.Fatalf("rewrap: %q", rw)
	}
	w("transit/keys/aes256-gcm96/config", map[string]any{"min_decryption_version": 2})
	if _, err := c.Logical().Write("transit/decrypt/aes256-gcm96", map[string]any{"ciphertext": old}); statusOf(err) != 400 {
		t.Fatalf("old ciphertext below min_decryption_version: got %v, want 400", err)
	}
	if w("transit/decrypt/aes256-gcm96", map[string]any{"ciphertext": rw}).Data["plaintext"] != b64("v1 data") {
		t.Fatal("rewrapped ciphertext does not decrypt")
	}

	// Envelope encryption: a wrapped data key decrypts to the key.
	dk := w("transit/datakey/plaintext/aes256-gcm96", nil).Data
	if got := w("transit/decrypt/aes256-gcm96", map[string]any{"ciphertext": dk["ciphertext"]}).Data["plaintext"]; got != dk["plaintext"] {
		t.Fatal("datakey ciphertext does not decrypt to its plaintext")
	}
	if wrapped := w("transit/datakey/wrapped/aes256-gcm96", nil).Data; wrapped["plaintext"] != nil || wrapped["ciphertext"] == nil {
		t.Fatalf("wrapped datakey: %v", wrapped)
	}

	// A batch with one bad item reports that item's error and does the rest.
	res := w("transit/encrypt/aes256-gcm96", map[string]any{"batch_input": []map[string]any{
		{"plaintext": b64("a")}, {"plaintext": "not base64!"}, {"plaintext": b64("c")},
	}}).Data["batch_results"].([]any)
	if len(res) != 3 || res[0].(map[string]any)["ciphertext"] == nil || res[1].(map[string]any)["error"] == nil || res[2].(map[string]any)["ciphertext"] == nil {
		t.Fatalf("batch results: %v", res)
	}

	// Bad input: a clear 400 each.
	for name, req := range map[string]map[string]any{
		"tampered":     {"ciphertext": rw[:len(rw)-4] + "AAAA"},
		"not base64":   {"ciphertext": "vault:v2:!!!"},
		"no prefix":    {"ciphertext": "abc"},
		"from another": {"ciphertext": w("transit/encrypt/chacha20-poly1305", map[string]any{"plaintext": b64("x")}).Data["ciphertext"]},
	} {
		if _, err := c.Logical().Write("transit/decrypt/aes256-gcm96", req); statusOf(err) != 400 {
			t.Errorf("%s: got %v, want 400", name, err)
		}
	}
	if _, err := c.Logical().Write("transit/keys/bad", map[string]any{"type": "rot13"}); statusOf(err) != 400 {
		t.Fatalf("unknown key type: %v", err)
	}
	if _, err := c.Logical().Delete("transit/keys/aes256-gcm96"); statusOf(err) != 400 {
		t.Fatalf("delete without deletion_allowed: %v", err)
	}
	if _, err := c.Logical().Read("transit/export/encryption-key/aes256-gcm96"); statusOf(err) != 400 {
		t.Fatalf("export of a non-exportable key: %v", err)
	}
	rnd := w("transit/random/16", map[string]any{"format": "hex"}).Data["random_bytes"].(string)
	if len(rnd) != 32 {
		t.Fatalf("random: %q", rnd)
	}
}
