package transit

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"testing"

	"github.com/arca-secrets/arca/logical"
)

func TestExportOnlyWhenExportable(t *testing.T) {
	h := newHarness(t)
	h.write("keys/closed", nil)
	h.write("keys/ec-closed", map[string]any{"type": typeECDSAP256})
	for _, path := range []string{"export/encryption-key/closed", "export/hmac-key/closed", "export/signing-key/ec-closed", "backup/closed"} {
		h.fails(logical.ErrInvalidRequest, logical.ReadOperation, path, nil)
	}
	// Public keys are not secret.
	if got := h.read("export/public-key/ec-closed")["keys"].(map[string]any); len(got) != 1 {
		t.Fatalf("public-key export: got %v", got)
	}

	h.write("keys/open", map[string]any{"exportable": true})
	h.write("keys/open/rotate", nil)
	keys := h.read("export/encryption-key/open")["keys"].(map[string]any)
	if len(keys) != 2 {
		t.Fatalf("export: got %d versions, want 2", len(keys))
	}
	for n, k := range keys {
		if b, err := base64.StdEncoding.DecodeString(k.(string)); err != nil || len(b) != 32 {
			t.Fatalf("version %s: got %d bytes (%v), want 32", n, len(b), err)
		}
	}
	if got := h.read("export/encryption-key/open/latest")["keys"].(map[string]any); len(got) != 1 || got["2"] == nil {
		t.Fatalf("export of latest: got %v, want version 2 only", got)
	}
	for _, path := range []string{"export/encryption-key/open/3", "export/signing-key/open", "export/bogus/open", "export/encryption-key/missing"} {
		h.fails(logical.ErrInvalidRequest, logical.ReadOperation, path, nil)
	}
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "keys/open/config", map[string]any{"exportable": false})

	// Exportable can be turned on later, then never off.
	h.write("keys/closed/config", map[string]any{"exportable": true})
	h.read("export/hmac-key/closed/1")
}

func TestExportSigningKeys(t *testing.T) {
	h := newHarness(t)
	h.write("keys/ed", map[string]any{"type": typeEd25519, "exportable": true})
	h.write("keys/ec", map[string]any{"type": typeECDSAP384, "exportable": true})

	edPub, _ := base64.StdEncoding.DecodeString(h.read("keys/ed")["keys"].(map[string]any)["1"].(map[string]any)["public_key"].(string))
	raw, err := base64.StdEncoding.DecodeString(h.read("export/signing-key/ed/1")["keys"].(map[string]any)["1"].(string))
	if err != nil || len(raw) != ed25519.PrivateKeySize {
		t.Fatalf("ed25519 export: got %d bytes (%v), want %d", len(raw), err, ed25519.PrivateKeySize)
	}
	if !ed25519.PrivateKey(raw).Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(edPub)) {
		t.Fatal("exported ed25519 key does not match the public key")
	}

	block, _ := pem.Decode([]byte(h.read("export/signing-key/ec")["keys"].(map[string]any)["1"].(string)))
	if block == nil || block.Type != "EC PRIVATE KEY" {
		t.Fatalf("ecdsa export: got block %v, want EC PRIVATE KEY", block)
	}
	priv, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	// A signature made by the engine verifies under the exported key.
	s := h.write("sign/ec", map[string]any{"input": enc("m"), "hash_algorithm": "sha2-384", "prehashed": false})["signature"].(string)
	_, sig, err := parseVersioned(s)
	if err != nil {
		t.Fatal(err)
	}
	d := sha384(t, []byte("m"))
	if !ecdsa.VerifyASN1(&priv.PublicKey, d, sig) {
		t.Fatal("engine signature does not verify under the exported key")
	}
}

func sha384(t *testing.T, b []byte) []byte {
	t.Helper()
	h, err := hashFor("sha2-384")
	if err != nil {
		t.Fatal(err)
	}
	w := h.New()
	w.Write(b)
	return w.Sum(nil)
}

func TestBackupRestore(t *testing.T) {
	h := newHarness(t)
	h.write("keys/e", map[string]any{"exportable": true})
	h.fails(logical.ErrInvalidRequest, logical.ReadOperation, "backup/e", nil) // needs allow_plaintext_backup too
	h.write("keys/e/config", map[string]any{"allow_plaintext_backup": true})
	h.write("keys/e/rotate", nil)
	ct := h.encrypt("e", "keep")
	backup := h.read("backup/e")["backup"]

	h.write("restore/e2", map[string]any{"backup": backup})
	if got := h.decrypt("e2", ct); got != "keep" {
		t.Fatalf("restored key: got %q, want %q", got, "keep")
	}
	if got := h.read("keys/e2")["latest_version"]; got != 2 {
		t.Fatalf("restored latest_version: got %v, want 2", got)
	}
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "restore/e2", map[string]any{"backup": backup})
	h.write("restore/e2", map[string]any{"backup": backup, "force": true})

	// Into another engine, under the backup's own name.
	other := newHarness(t)
	other.write("restore", map[string]any{"backup": backup})
	if got := other.decrypt("e", ct); got != "keep" {
		t.Fatalf("restored into another mount: got %q, want %q", got, "keep")
	}

	for _, b := range []string{"###", enc("{}"), enc(`{"type":"aes256-gcm96","latest_version":1,"keys":{"1":{"key":"AAAA","hmac_key":"AAAA"}}}`), enc("not json"),
		restamp(t, backup.(string), func(m map[string]any) { m["min_decryption_version"] = 5 }),
		restamp(t, backup.(string), func(m map[string]any) { m["type"] = typeEd25519 }),
		restamp(t, backup.(string), func(m map[string]any) { m["latest_version"] = 3 }),
	} {
		h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "restore/x", map[string]any{"backup": b})
	}
	h.fails(logical.ErrInvalidRequest, logical.UpdateOperation, "restore/x", nil)
}

// restamp edits a backup's JSON.
func restamp(t *testing.T, backup string, edit func(map[string]any)) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(backup)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(out)
}
