package transit

import (
	"strings"
	"testing"

	"github.com/arca-secrets/arca/logical"
)

func TestEncryptRoundTrip(t *testing.T) {
	for _, typ := range []string{typeAES, typeAES128, typeChaCha} {
		t.Run(typ, func(t *testing.T) {
			h := newHarness(t)
			h.write("keys/k", map[string]any{"type": typ})
			for _, pt := range []string{"", "x", "hello, transit", strings.Repeat("z", 70000)} {
				ct := h.encrypt("k", pt)
				if !strings.HasPrefix(ct, "vault:v1:") {
					t.Fatalf("ciphertext %q: want prefix vault:v1:", ct)
				}
				if got := h.decrypt("k", ct); got != pt {
					t.Fatalf("round trip of %d bytes: got %d bytes back", len(pt), len(got))
				}
			}
			if a, b := h.encrypt("k", "same"), h.encrypt("k", "same"); a == b {
				t.Fatal("two encryptions of one plaintext are equal: nonces repeat")
			}
		})
	}
}

func TestEncryptCreatesKey(t *testing.T) {
	h := newHarness(t)
	ct := h.encrypt("auto", "first use")
	if got := h.read("keys/auto")["type"]; got != typeAES {
		t.Fatalf("type of the key created on encrypt: got %v, want %s", got, typeAES)
	}
	if got := h.decrypt("auto", ct); got != "first use" {
		t.Fatalf("got %q, want %q", got, "first use")
	}
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "decrypt/missing", map[string]any{"ciphertext": ct})
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "encrypt/rsa", map[string]any{"plaintext": enc("x"), "type": typeRSA2048})
}

func TestSignVerifyRoundTrip(t *testing.T) {
	tests := []struct {
		name, typ string
		params    map[string]any
		path      string // suffix after sign/k and verify/k
		input     string // default "message"
	}{
		{name: "ed25519", typ: typeEd25519},
		{name: "ecdsa-p256", typ: typeECDSAP256},
		{name: "ecdsa-p256 sha2-512 in path", typ: typeECDSAP256, path: "/sha2-512"},
		{name: "ecdsa-p384 jws", typ: typeECDSAP384, params: map[string]any{"marshaling_algorithm": "jws", "hash_algorithm": "sha2-384"}},
		{name: "ecdsa-p521 sha2-512", typ: typeECDSAP521, params: map[string]any{"hash_algorithm": "sha2-512"}},
		{name: "ecdsa-p256 prehashed", typ: typeECDSAP256, params: map[string]any{"prehashed": true}, input: strings.Repeat("d", 32)},
		{name: "rsa-2048 prehashed pkcs1v15", typ: typeRSA2048, params: map[string]any{"prehashed": true, "signature_algorithm": "pkcs1v15"}, input: strings.Repeat("d", 32)},
		{name: "rsa-2048 pss", typ: typeRSA2048, params: map[string]any{"signature_algorithm": "pss"}},
		{name: "rsa-2048 pss salt=hash", typ: typeRSA2048, params: map[string]any{"salt_length": "hash"}},
		{name: "rsa-2048 pkcs1v15", typ: typeRSA2048, params: map[string]any{"signature_algorithm": "pkcs1v15", "hash_algorithm": "sha2-384"}},
		{name: "rsa-2048 sha3-256", typ: typeRSA2048, params: map[string]any{"hash_algorithm": "sha3-256"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.write("keys/k", map[string]any{"type": tc.typ})
			h.write("keys/other", map[string]any{"type": tc.typ})
			with := func(extra map[string]any) map[string]any {
				m := map[string]any{}
				for k, v := range tc.params {
					m[k] = v
				}
				for k, v := range extra {
					m[k] = v
				}
				return m
			}
			msg := tc.input
			if msg == "" {
				msg = "message"
			}
			other := msg[:len(msg)-1] + "!"
			out := h.write("sign/k"+tc.path, with(map[string]any{"input": enc(msg)}))
			sig, _ := out["signature"].(string)
			if !strings.HasPrefix(sig, "vault:v1:") || out["key_version"] != 1 {
				t.Fatalf("sign: got %v, want a vault:v1: signature of version 1", out)
			}
			verify := func(key, input, sig string) any {
				return h.write("verify/"+key+tc.path, with(map[string]any{"input": enc(input), "signature": sig}))["valid"]
			}
			if got := verify("k", msg, sig); got != true {
				t.Fatalf("verify of the signed message: got %v, want true", got)
			}
			if got := verify("k", other, sig); got != false {
				t.Fatalf("verify of another message: got %v, want false", got)
			}
			if got := verify("other", msg, sig); got != false {
				t.Fatalf("verify with another key: got %v, want false", got)
			}
		})
	}
}

func TestSignBadInput(t *testing.T) {
	h := newHarness(t)
	h.write("keys/aes", nil)
	h.write("keys/ed", map[string]any{"type": typeEd25519})
	h.write("keys/ec", map[string]any{"type": typeECDSAP256})
	h.write("keys/rsa", map[string]any{"type": typeRSA2048})
	tests := []struct {
		name, path string
		data       map[string]any
	}{
		{name: "sign with an encryption key", path: "sign/aes", data: map[string]any{"input": enc("m")}},
		{name: "input not base64", path: "sign/ec", data: map[string]any{"input": "%%%"}},
		{name: "missing input", path: "sign/ec", data: map[string]any{}},
		{name: "unknown hash", path: "sign/ec/md5", data: map[string]any{"input": enc("m")}},
		{name: "ed25519 prehashed", path: "sign/ed", data: map[string]any{"input": enc("m"), "prehashed": true}},
		{name: "prehashed of the wrong size", path: "sign/ec", data: map[string]any{"input": enc("m"), "prehashed": true}},
		{name: "bad marshaling", path: "sign/ec", data: map[string]any{"input": enc("m"), "marshaling_algorithm": "der"}},
		{name: "bad signature format", path: "verify/ec", data: map[string]any{"input": enc("m"), "signature": "sig"}},
		{name: "signature version missing", path: "verify/ec", data: map[string]any{"input": enc("m"), "signature": "vault:v9:AAAA"}},
		{name: "missing key", path: "sign/nope", data: map[string]any{"input": enc("m")}},
		{name: "salt too long", path: "sign/rsa", data: map[string]any{"input": enc("m"), "salt_length": "4000"}},
		{name: "bad salt", path: "sign/rsa", data: map[string]any{"input": enc("m"), "salt_length": "big"}},
		{name: "bad signature_algorithm", path: "sign/rsa", data: map[string]any{"input": enc("m"), "signature_algorithm": "raw"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, tc.path, tc.data)
		})
	}
}

func TestHMACRoundTrip(t *testing.T) {
	for _, typ := range []string{typeHMAC, typeAES, typeEd25519} {
		t.Run(typ, func(t *testing.T) {
			h := newHarness(t)
			h.write("keys/k", map[string]any{"type": typ})
			for _, algo := range []string{"", "/sha2-512"} {
				mac := h.write("hmac/k"+algo, map[string]any{"input": enc("data")})["hmac"].(string)
				if !strings.HasPrefix(mac, "vault:v1:") {
					t.Fatalf("hmac %q: want prefix vault:v1:", mac)
				}
				if got := h.write("verify/k"+algo, map[string]any{"input": enc("data"), "hmac": mac})["valid"]; got != true {
					t.Fatalf("verify hmac: got %v, want true", got)
				}
				if got := h.write("verify/k"+algo, map[string]any{"input": enc("Data"), "hmac": mac})["valid"]; got != false {
					t.Fatalf("verify hmac of other data: got %v, want false", got)
				}
			}
			// The algorithm is part of what is verified.
			mac := h.write("hmac/k/sha2-256", map[string]any{"input": enc("data")})["hmac"].(string)
			if got := h.write("verify/k/sha2-384", map[string]any{"input": enc("data"), "hmac": mac})["valid"]; got != false {
				t.Fatalf("verify with another algorithm: got %v, want false", got)
			}
		})
	}
}

func TestHMACKeySize(t *testing.T) {
	h := newHarness(t)
	h.write("keys/big", map[string]any{"type": typeHMAC, "key_size": 64, "exportable": true})
	if got := len(h.read("export/hmac-key/big/1")["keys"].(map[string]any)["1"].(string)); got != 88 {
		t.Fatalf("exported 64-byte hmac key: got %d base64 chars, want 88", got)
	}
	for _, size := range []any{16, 513} {
		h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "keys/bad", map[string]any{"type": typeHMAC, "key_size": size})
	}
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "keys/aes", map[string]any{"key_size": 64})
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "encrypt/big", map[string]any{"plaintext": enc("x")})
}
