package luks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/arca-secrets/arca/seal/shamir"
)

// Recovery: a passphrase for the day Arca is gone. arca volume recovery
// adds it to a keyslot of its own and hands it out only as Shamir shares,
// each encrypted to one holder's age recipient; it is never shown, never
// stored whole, and never sent to the server. arca volume recover takes
// the holders' decrypted shares on stdin, combines them and opens (or
// tests) the volume with the result.
//
// A share is one line: "arca-volume-share:v1:<LUKS UUID>:<threshold>:<hex>",
// where hex is seal/shamir's share of the 64 random bytes whose hex is the
// recovery passphrase. The header records the recovery slot in a token of
// type arca-recovery (no secret in it).

const (
	RecoveryTokenType = "arca-recovery"
	SharePrefix       = "arca-volume-share:v1:"
)

// Errors of the recovery commands.
var (
	ErrRecoveryExists = errors.New("the volume has a recovery keyslot already (its arca-recovery token names it)")
	ErrBadShare       = errors.New("not an arca volume share")
	ErrFewShares      = errors.New("too few shares")
)

// RecoveryToken is the header's record of the recovery keyslot.
type RecoveryToken struct {
	Type      string   `json:"type"`
	Keyslots  []string `json:"keyslots"`
	Shares    int      `json:"arca_shares"`
	Threshold int      `json:"arca_threshold"`
}

// RecoveryTokens returns the header's arca-recovery tokens by id.
func (m *Meta) RecoveryTokens() map[int]RecoveryToken {
	out := map[int]RecoveryToken{}
	for k, raw := range m.Tokens {
		id, err := strconv.Atoi(k)
		var tok RecoveryToken
		if err != nil || json.Unmarshal(raw, &tok) != nil || tok.Type != RecoveryTokenType {
			continue
		}
		out[id] = tok
	}
	return out
}

// UUID returns the LUKS header's UUID, which shares carry so that shares
// of different volumes are not mixed.
func (d *Device) UUID(ctx context.Context) (string, error) {
	out, err := d.do(ctx, Cmd{Args: []string{"luksUUID", d.Path}})
	if err != nil {
		return "", err
	}
	u := strings.TrimSpace(string(out))
	if u == "" || strings.ContainsAny(u, ": \n") {
		return "", fmt.Errorf("%s: unexpected LUKS UUID %q", d.Path, u)
	}
	return u, nil
}

// RecoveryPlan is what arca volume recovery was asked for.
type RecoveryPlan struct {
	Shares, Threshold int
	Recipients        []age.Recipient // one per share
	OutDir            string
}

// AddRecovery adds a recovery passphrase to a free keyslot, authorised by
// the Arca passphrase, and writes its shares, each encrypted to its
// recipient, as OutDir/share-<i>.age. The files are written before the
// keyslot is added, so a failure leaves no slot that nobody can open.
func AddRecovery(ctx context.Context, d *Device, src KeySource, p RecoveryPlan) (slot int, files []string, err error) {
	if len(p.Recipients) != p.Shares {
		return 0, nil, fmt.Errorf("%d age recipients for %d shares: give one per share", len(p.Recipients), p.Shares)
	}
	meta, err := d.Metadata(ctx)
	if err != nil {
		return 0, nil, err
	}
	for id := range meta.RecoveryTokens() {
		return 0, nil, fmt.Errorf("%s: token %d: %w", d.Path, id, ErrRecoveryExists)
	}
	_, arcaKey, err := Unlock(ctx, d, src, true, "", true)
	if err != nil {
		return 0, nil, err
	}
	defer Wipe(arcaKey)
	uuid, err := d.UUID(ctx)
	if err != nil {
		return 0, nil, err
	}
	secret := make([]byte, passphraseBytes)
	if _, err := rand.Read(secret); err != nil {
		return 0, nil, err
	}
	defer Wipe(secret)
	shares, err := shamir.Split(secret, p.Shares, p.Threshold)
	if err != nil {
		return 0, nil, err
	}
	sealed := make([][]byte, len(shares))
	for i, sh := range shares {
		line := []byte(fmt.Sprintf("%s%s:%d:%s\n", SharePrefix, uuid, p.Threshold, hex.EncodeToString(sh)))
		sealed[i], err = encryptTo(p.Recipients[i], line)
		Wipe(line)
		Wipe(sh)
		if err != nil {
			return 0, nil, err
		}
	}
	if slot, err = meta.FreeSlot(); err != nil {
		return 0, nil, err
	}
	for i, b := range sealed {
		name := filepath.Join(p.OutDir, fmt.Sprintf("share-%d.age", i+1))
		if err := writeNew(name, b); err != nil {
			removeAll(files)
			return 0, nil, err
		}
		files = append(files, name)
	}
	key := []byte(hex.EncodeToString(secret))
	defer Wipe(key)
	if err := d.AddKey(ctx, slot, arcaKey, "", key); err != nil {
		removeAll(files)
		return 0, nil, fmt.Errorf("adding the recovery passphrase to keyslot %d: %w", slot, err)
	}
	tok := RecoveryToken{Type: RecoveryTokenType, Keyslots: []string{strconv.Itoa(slot)}, Shares: p.Shares, Threshold: p.Threshold}
	raw, _ := json.Marshal(tok)
	if _, err := d.do(ctx, Cmd{Args: []string{"token", "import", "--json-file", "-", d.Path}, Key: raw}); err != nil {
		return slot, files, fmt.Errorf("keyslot %d opens with the shares, but recording it in a token failed: %w", slot, err)
	}
	return slot, files, nil
}

// passphraseBytes is the size of the random secret behind a recovery
// passphrase, as for Arca's: 512 bits, given as 128 hex digits.
const passphraseBytes = 64

func encryptTo(r age.Recipient, plaintext []byte) ([]byte, error) {
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, r)
	if err != nil {
		return nil, fmt.Errorf("encrypting a share: %w", err)
	}
	if _, err := w.Write(plaintext); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if err := aw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeNew writes a file that must not exist yet, readable by its owner
// only.
func writeNew(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func removeAll(files []string) {
	for _, f := range files {
		_ = os.Remove(f)
	}
}

// CombineShares reads share lines from r (other lines are ignored) and
// returns the recovery passphrase they make; every share must name uuid.
func CombineShares(r io.Reader, uuid string) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, err
	}
	defer Wipe(raw)
	var shares [][]byte
	threshold := 0
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(line, SharePrefix)
		if !ok {
			continue
		}
		parts := strings.Split(rest, ":")
		if len(parts) != 3 {
			return nil, ErrBadShare
		}
		if parts[0] != uuid {
			return nil, fmt.Errorf("%w: a share is of the LUKS volume %s, not of %s", ErrBadShare, parts[0], uuid)
		}
		k, err := strconv.Atoi(parts[1])
		if err != nil || k < 2 || (threshold != 0 && k != threshold) {
			return nil, fmt.Errorf("%w: threshold %q", ErrBadShare, parts[1])
		}
		threshold = k
		sh, err := hex.DecodeString(parts[2])
		if err != nil || len(sh) != passphraseBytes+1 {
			return nil, fmt.Errorf("%w: its value is not %d hex bytes", ErrBadShare, passphraseBytes+1)
		}
		shares = append(shares, sh)
	}
	if threshold == 0 || len(shares) < threshold {
		return nil, fmt.Errorf("%w: got %d, this volume's need %d", ErrFewShares, len(shares), threshold)
	}
	secret, err := shamir.Combine(shares)
	for _, sh := range shares {
		Wipe(sh)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadShare, err)
	}
	defer Wipe(secret)
	return []byte(hex.EncodeToString(secret)), nil
}

// RecoverySlot returns the keyslot of the header's recovery token, or -1
// (any slot) when there is none.
func RecoverySlot(meta *Meta) int {
	for _, tok := range meta.RecoveryTokens() {
		if len(tok.Keyslots) == 1 {
			if n, err := strconv.Atoi(tok.Keyslots[0]); err == nil {
				return n
			}
		}
	}
	return -1
}
