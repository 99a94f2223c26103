package cli

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"github.com/arca-secrets/arca/internal/ageshare"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"
)

func TestParseAgeRecipients(t *testing.T) {
	var keys []string
	for range 3 {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, id.Recipient().String())
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sshKey := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
	file := filepath.Join(t.TempDir(), "holders")
	if err := os.WriteFile(file, []byte("# holders\n\n"+keys[0]+"\n  "+sshKey+" carol@host  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		arg     string
		want    int
		texts   []string
		wantErr string
	}{
		{name: "file with comments and blanks", arg: file, want: 2, texts: []string{keys[0], sshKey + " carol@host"}},
		{name: "list", arg: keys[0] + ", " + keys[1] + "," + keys[2], want: 3, texts: keys},
		{name: "ssh key in a list", arg: sshKey + " c," + keys[1], want: 2, texts: []string{sshKey + " c", keys[1]}},
		{name: "too few", arg: keys[0], want: 2, wantErr: "1 recipients for 2 key shares"},
		{name: "too many", arg: keys[0] + "," + keys[1], want: 1, wantErr: "2 recipients for 1 key shares"},
		{name: "twice", arg: keys[0] + "," + keys[0], want: 2, wantErr: "listed twice"},
		{name: "the same ssh key with another comment", arg: sshKey + " a," + sshKey + " b", want: 2, wantErr: "listed twice"},
		{name: "missing file", arg: filepath.Join(t.TempDir(), "nope"), want: 1, wantErr: "neither a file nor a list"},
		{name: "bad key", arg: keys[0] + ",age1xyz", want: 2, wantErr: "recipient 2"},
		{name: "a private key by mistake", arg: keys[1] + ",AGE-SECRET-KEY-1QQQ", want: 2, wantErr: "recipient 2 is a private key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ageshare.ParseRecipients(tc.arg, tc.want)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var texts []string
			for _, r := range got {
				texts = append(texts, r.Text)
			}
			if strings.Join(texts, "|") != strings.Join(tc.texts, "|") {
				t.Fatalf("got %q, want %q", texts, tc.texts)
			}
		})
	}
}

// TestShareRoundTrip: a share encrypted to a recipient decrypts with its
// identity, armored or not, and a wrong identity says which file it was.
func TestShareRoundTrip(t *testing.T) {
	dir := t.TempDir()
	alice, _ := age.GenerateX25519Identity()
	bob, _ := age.GenerateX25519Identity()
	aliceFile := filepath.Join(dir, "alice.key")
	bobFile := filepath.Join(dir, "bob.key")
	for path, id := range map[string]*age.X25519Identity{aliceFile: alice, bobFile: bob} {
		if err := os.WriteFile(path, []byte(id.String()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	recips, err := ageshare.ParseRecipients(alice.Recipient().String(), 1)
	if err != nil {
		t.Fatal(err)
	}
	const share = "c2hhcmUgb2YgYSBrZXk="
	enc, err := ageshare.EncryptAll([]string{share}, recips)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(enc[0], share) || !strings.HasPrefix(enc[0], "-----BEGIN AGE ENCRYPTED FILE-----") {
		t.Fatalf("encrypted share %q: want armored, without the share", enc[0])
	}
	e := &env{stdin: strings.NewReader(enc[0]), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	if got, err := readShareArg(e, nil, aliceFile, ""); err != nil || got != share {
		t.Fatalf("from stdin: got %q, %v; want %q", got, err, share)
	}
	shareFile := filepath.Join(dir, "share.age")
	if err := os.WriteFile(shareFile, []byte("\n"+enc[0]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := readShareArg(e, []string{shareFile}, aliceFile, ""); err != nil || got != share {
		t.Fatalf("from a file: got %q, %v; want %q", got, err, share)
	}
	if _, err := readShareArg(e, []string{shareFile}, bobFile, ""); err == nil || !strings.Contains(err.Error(), "not encrypted to the identity in "+bobFile) {
		t.Fatalf("wrong identity: got %v, want it named", err)
	}
	if _, err := readShareArg(e, []string{aliceFile}, aliceFile, ""); err == nil || !strings.Contains(err.Error(), "not an age-encrypted share") {
		t.Fatalf("not a share: got %v", err)
	}
	if _, err := readShareArg(e, []string{shareFile}, shareFile, ""); err == nil || !strings.Contains(err.Error(), "-age-identity") {
		t.Fatalf("not an identity: got %v", err)
	}
}

func TestParseAgeRecipientsNeverEchoesAPrivateKey(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	_, err = ageshare.ParseRecipients(id.String(), 1)
	if err == nil || strings.Contains(err.Error(), id.String()) {
		t.Fatalf("got %v; want an error that does not show the private key", err)
	}
}
