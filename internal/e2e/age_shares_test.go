package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"filippo.io/age/armor"
	"golang.org/x/crypto/ssh"
)

// ageHolder is one holder of a share: an identity file and the recipient
// line others encrypt to.
type ageHolder struct {
	identityFile string
	recipient    string
	identity     age.Identity
}

func newAgeHolder(t *testing.T, dir, name string) ageHolder {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".key")
	if err := os.WriteFile(path, []byte("# "+name+"\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return ageHolder{identityFile: path, recipient: id.Recipient().String(), identity: id}
}

func newSSHHolder(t *testing.T, dir, name string) ageHolder {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, name)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(block)
	path := filepath.Join(dir, "id_ed25519_"+name)
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	id, err := agessh.ParseIdentity(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " " + name + "@example"
	return ageHolder{identityFile: path, recipient: line, identity: id}
}

// decryptFor opens an armored share as the holder would with the age tool.
func decryptFor(t *testing.T, h ageHolder, armored string) string {
	t.Helper()
	r, err := age.Decrypt(armor.NewReader(strings.NewReader(armored)), h.identity)
	if err != nil {
		t.Fatalf("decrypting a share for %s: %v", h.recipient, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// armoredBlocks returns the age blocks printed in out, in order.
func armoredBlocks(out string) []string {
	const begin, end = "-----BEGIN AGE ENCRYPTED FILE-----", "-----END AGE ENCRYPTED FILE-----"
	var blocks []string
	for {
		i := strings.Index(out, begin)
		if i < 0 {
			return blocks
		}
		j := strings.Index(out[i:], end)
		if j < 0 {
			return blocks
		}
		blocks = append(blocks, out[i:i+j+len(end)]+"\n")
		out = out[i+j+len(end):]
	}
}

// TestAgeEncryptedShares: init encrypts each share to one of three
// holders (two age keys, one SSH key) and prints none in clear; two
// holders unseal with their identities, a wrong identity is refused
// clearly; rekey hands out new shares encrypted to a comma-separated list,
// and generate-root takes encrypted shares too.
func TestAgeEncryptedShares(t *testing.T) {
	dir := t.TempDir()
	holders := []ageHolder{newAgeHolder(t, dir, "alice"), newAgeHolder(t, dir, "bob"), newSSHHolder(t, dir, "carol")}
	recipients := writeFile(t, dir, "holders.txt", "# one holder a line, in share order\n"+holders[0].recipient+"\n\n"+holders[1].recipient+"\n"+holders[2].recipient+"\n")

	addr := freeAddr(t)
	conf := writeConfig(t, addr, `storage "bolt" { path = "`+filepath.Join(dir, "arca.db")+`" }`, "disable_mlock = true")
	startArca(t, addr, "-config="+conf)
	env := []string{"ARCA_ADDR=http://" + addr}
	c := newClient(t, addr, "")

	// Recipients that do not fit are refused before the server is asked.
	for _, tc := range []struct{ arg, want string }{
		{holders[0].recipient + "," + holders[1].recipient, "2 recipients for 3 key shares"},
		{filepath.Join(dir, "no-such-file.txt"), "neither a file nor a list"},
		{holders[0].recipient + "," + holders[1].recipient + "," + holders[0].recipient, "listed twice"},
		{holders[0].recipient + ",age1notakey," + holders[1].recipient, "recipient 2"},
	} {
		arca(t, env, "", "operator", "init", "-key-shares=3", "-key-threshold=2", "-age-recipients="+tc.arg).must(t, 2, tc.want)
	}
	if ok, err := c.Sys().InitStatus(); err != nil || ok {
		t.Fatalf("initialised by a refused init: %v, %v", ok, err)
	}

	init := arca(t, env, "", "operator", "init", "-key-shares=3", "-key-threshold=2", "-age-recipients="+recipients, "-format=json")
	init.must(t, 0)
	var out struct {
		Age        []string `json:"unseal_keys_age"`
		Recipients []string `json:"unseal_keys_age_recipients"`
		B64        []string `json:"unseal_keys_b64"`
		Hex        []string `json:"unseal_keys_hex"`
		RootToken  string   `json:"root_token"`
	}
	if err := json.Unmarshal([]byte(init.stdout), &out); err != nil || len(out.Age) != 3 || len(out.B64)+len(out.Hex) != 0 || out.RootToken == "" {
		t.Fatalf("init json: %v\n%s", err, init.stdout)
	}
	shareFiles := make([]string, 3)
	for i, h := range holders {
		if out.Recipients[i] != h.recipient {
			t.Fatalf("share %d is for %q, want %q", i+1, out.Recipients[i], h.recipient)
		}
		clearShare := decryptFor(t, h, out.Age[i])
		if strings.Contains(init.stdout+init.stderr, clearShare) {
			t.Fatalf("init printed share %d in clear", i+1)
		}
		shareFiles[i] = writeFile(t, dir, "share"+string(rune('1'+i))+".age", out.Age[i])
	}

	// A wrong identity fails clearly and counts nothing.
	arca(t, env, "", "operator", "unseal", "-age-identity="+holders[0].identityFile, shareFiles[1]).must(t, 2, "not encrypted to the identity in "+holders[0].identityFile)
	arca(t, env, "", "operator", "unseal", "-age-identity="+holders[2].identityFile, shareFiles[0]).must(t, 2, "not encrypted to the identity")
	arca(t, env, "", "operator", "unseal", "-age-identity="+holders[0].identityFile, recipients).must(t, 2, "not an age-encrypted share")
	if st, err := c.Sys().SealStatus(); err != nil || st.Progress != 0 || !st.Sealed {
		t.Fatalf("after wrong identities: %+v, %v; want sealed, no progress", st, err)
	}

	// Two holders unseal: an age key with the share in a file, an SSH key
	// with the share on stdin.
	arca(t, env, "", "operator", "unseal", "-age-identity="+holders[0].identityFile, shareFiles[0]).must(t, 0, "Unseal Progress", "1/2")
	arca(t, env, out.Age[2], "operator", "unseal", "-age-identity="+holders[2].identityFile).must(t, 0)
	arca(t, env, "", "status").must(t, 0)

	// Rekey to bob and carol, listed on the command line.
	root := append(env, "ARCA_TOKEN="+out.RootToken)
	list := holders[1].recipient + "," + holders[2].recipient
	arca(t, root, "", "operator", "rekey", "-init", "-key-shares=2", "-key-threshold=2", "-age-recipients="+holders[1].recipient).must(t, 2, "1 recipients for 2 key shares")
	arca(t, root, "", "operator", "rekey", "-init", "-key-shares=2", "-key-threshold=2", "-age-recipients="+list).must(t, 0, "Nonce")
	arca(t, root, "", "operator", "rekey", "-age-identity="+holders[1].identityFile, "-age-recipients="+list, shareFiles[1]).must(t, 0, "Rekey Progress", "1/2")
	done := arca(t, root, "", "operator", "rekey", "-age-identity="+holders[0].identityFile, "-age-recipients="+list, shareFiles[0])
	done.must(t, 0, "Key 1, encrypted to "+holders[1].recipient, "Key 2, encrypted to "+holders[2].recipient)
	newShares := armoredBlocks(done.stdout)
	if len(newShares) != 2 {
		t.Fatalf("rekey printed %d encrypted shares, want 2:\n%s", len(newShares), done.stdout)
	}
	newFiles := []string{writeFile(t, dir, "new1.age", newShares[0]), writeFile(t, dir, "new2.age", newShares[1])}
	for i, h := range holders[1:] {
		if clearShare := decryptFor(t, h, newShares[i]); strings.Contains(done.stdout, clearShare) {
			t.Fatalf("rekey printed new share %d in clear", i+1)
		}
	}

	// generate-root with encrypted shares.
	st := parseGenRoot(t, arca(t, root, "", "operator", "generate-root", "-init", "-format=json"))
	arca(t, root, "", "operator", "generate-root", "-age-identity="+holders[1].identityFile, newFiles[0]).must(t, 0, "1/2")
	gr := parseGenRoot(t, arca(t, root, "", "operator", "generate-root", "-age-identity="+holders[2].identityFile, "-format=json", newFiles[1]))
	if !gr.Complete {
		t.Fatalf("generate-root with encrypted shares: %+v", gr)
	}
	tok := strings.TrimSpace(arca(t, env, "", "operator", "generate-root", "-decode="+gr.EncodedToken, "-otp="+st.OTP).stdout)
	arca(t, append(env, "ARCA_TOKEN="+tok), "", "token", "lookup").must(t, 0, `["root"]`)

	// The new encrypted shares unseal; the old ones no longer do.
	arca(t, root, "", "operator", "seal").must(t, 0)
	arca(t, env, "", "operator", "unseal", "-age-identity="+holders[1].identityFile, newFiles[0]).must(t, 0, "1/2")
	arca(t, env, "", "operator", "unseal", "-age-identity="+holders[2].identityFile, newFiles[1]).must(t, 0)
	arca(t, env, "", "status").must(t, 0)
}
