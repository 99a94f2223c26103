package e2e

import (
	"bytes"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/arca-secrets/arca/seal/shamir"
)

// TestVolumeRecoveryShares: recovery shares, each encrypted to its
// holder, open the volume with the server gone (revoked, then stopped);
// one share alone does not. The recovery passphrase is in no argument,
// environment or file.
func TestVolumeRecoveryShares(t *testing.T) {
	f := newVolumeFixture(t)
	disk := f.disk("disk.img", "p")
	f.arca(f.hostToken, "p\n", "bind", disk, "-name=web1").must(t, 0)
	var ids []*age.X25519Identity
	args := []string{"recovery", disk, "-shares=3", "-threshold=2", "-out=" + f.dir}
	for range 3 {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		args = append(args, "-age-recipient="+id.Recipient().String())
	}
	f.arca(f.hostToken, "", args[:len(args)-1]...).must(t, 2, "one -age-recipient per share")
	f.arca(f.hostToken, "", args...).must(t, 0, "Keyslot 2 of", "any 2 of these 3 shares", "share-1.age")
	f.arca(f.hostToken, "", "status", disk).must(t, 0, "recovery keyslot    2")

	var lines []string
	for i, id := range ids {
		raw, err := os.ReadFile(filepath.Join(f.dir, "share-"+string(rune('1'+i))+".age"))
		if err != nil {
			t.Fatal(err)
		}
		r, err := age.Decrypt(armor.NewReader(bytes.NewReader(raw)), id)
		if err != nil {
			t.Fatalf("holder %d: %v", i+1, err)
		}
		b, _ := io.ReadAll(r)
		lines = append(lines, string(b))
	}

	// The day Arca is gone: the volume's key revoked, the server stopped.
	if _, err := f.root.Logical().Write("volume/volumes/web1/revoke", nil); err != nil {
		t.Fatal(err)
	}
	f.arca(f.hostToken, "", "unlock", disk, "-test").must(t, 1, "was revoked")
	f.server.kill()
	f.arca(f.hostToken, lines[2]+lines[0], "recover", disk, "-test").must(t, 0, "The shares open keyslot 2")
	f.arca(f.hostToken, lines[1], "recover", disk, "-test").must(t, 1, "too few shares")

	var shares [][]byte
	for _, l := range lines[:2] {
		parts := strings.Split(strings.TrimSpace(l), ":")
		b, err := hex.DecodeString(parts[len(parts)-1])
		if err != nil {
			t.Fatal(err)
		}
		shares = append(shares, b)
	}
	secret, err := shamir.Combine(shares)
	if err != nil {
		t.Fatal(err)
	}
	pass := hex.EncodeToString(secret)
	if !f.cryptOK(pass, "open", "--test-passphrase", "--key-slot", "2", "--key-file=-", disk) {
		t.Fatal("the combined shares do not open keyslot 2 with cryptsetup itself")
	}
	f.noKeyAnywhere(pass)
}
