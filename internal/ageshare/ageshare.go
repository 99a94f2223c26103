// Package ageshare encrypts key shares to their holders with age
// (filippo.io/age): X25519 and SSH public keys, one recipient per share,
// ASCII-armored, and decrypts one with the holder's identity. It is the
// client's side only: no server ever sees a recipient.
package ageshare

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"filippo.io/age/armor"
)

// MaxInput bounds an identity or encrypted share file read.
const MaxInput = 1 << 20

// Recipient is one holder's public key, and how it was written (shown
// beside the share so that holders can find theirs).
type Recipient struct {
	recipient age.Recipient
	Text      string
}

// ParseRecipients reads -age-recipients: the path of a file with one
// recipient a line ('#' comments and blank lines skipped), or a
// comma-separated list. A recipient is an age public key (age1...) or an
// SSH public key (ssh-ed25519 or ssh-rsa, as in authorized_keys). want is
// the number of shares: there must be exactly one recipient for each, and
// no recipient twice.
func ParseRecipients(arg string, want int) ([]Recipient, error) {
	var lines []string
	if st, err := os.Stat(arg); err == nil && st.Mode().IsRegular() {
		b, err := ReadBounded(arg)
		if err != nil {
			return nil, err
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
	} else {
		for _, l := range strings.Split(arg, ",") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
	}
	var out []Recipient
	seen := map[string]bool{}
	for i, l := range lines {
		if strings.HasPrefix(strings.ToUpper(l), "AGE-SECRET-KEY-") || strings.Contains(l, "PRIVATE KEY") {
			// Never echo it: it is the holder's secret.
			return nil, fmt.Errorf("-age-recipients: recipient %d is a private key; give the holder's public key (age1... or ssh-...), and keep the private key to the holder", i+1)
		}
		r, err := parseRecipient(l)
		if err != nil {
			if len(lines) == 1 && !strings.HasPrefix(l, "age1") && !strings.HasPrefix(l, "ssh-") {
				return nil, fmt.Errorf("-age-recipients: %q is neither a file nor a list of age or SSH public keys", arg)
			}
			return nil, fmt.Errorf("-age-recipients: recipient %d: %w", i+1, err)
		}
		key := strings.Join(strings.Fields(l)[:min(2, len(strings.Fields(l)))], " ") // an SSH key's comment does not count
		if seen[key] {
			return nil, fmt.Errorf("-age-recipients: recipient %d is listed twice; each share goes to a different holder", i+1)
		}
		seen[key] = true
		out = append(out, Recipient{recipient: r, Text: l})
	}
	if len(out) != want {
		return nil, fmt.Errorf("-age-recipients: %d recipients for %d key shares; give one recipient for each share", len(out), want)
	}
	// Encrypt once to each before anything is asked of the server, so that
	// a recipient age cannot use is found while no share exists yet.
	for i, r := range out {
		if _, err := Encrypt("check", r); err != nil {
			return nil, fmt.Errorf("-age-recipients: recipient %d: %w", i+1, err)
		}
	}
	return out, nil
}

func parseRecipient(s string) (age.Recipient, error) {
	if strings.HasPrefix(s, "ssh-") {
		return agessh.ParseRecipient(s)
	}
	rs, err := age.ParseRecipients(strings.NewReader(s))
	if err != nil {
		return nil, err
	}
	return rs[0], nil
}

// encryptShare returns share encrypted to r, ASCII-armored.
func Encrypt(share string, r Recipient) (string, error) {
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, r.recipient)
	if err != nil {
		return "", err
	}
	if _, err := io.WriteString(w, share+"\n"); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	if err := aw.Close(); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// encryptShares encrypts share i to recipient i.
func EncryptAll(shares []string, recips []Recipient) ([]string, error) {
	if len(shares) != len(recips) {
		return nil, fmt.Errorf("%d shares for %d recipients", len(shares), len(recips))
	}
	out := make([]string, len(shares))
	for i, s := range shares {
		enc, err := Encrypt(s, recips[i])
		if err != nil {
			return nil, fmt.Errorf("encrypting share %d to %s: %w", i+1, recips[i].Text, err)
		}
		out[i] = enc
	}
	return out, nil
}

// printAgeShares prints each encrypted share under a heading naming its
// recipient.
func Print(w io.Writer, heading string, enc []string, recips []Recipient) {
	for i, s := range enc {
		fmt.Fprintf(w, "%s %d, encrypted to %s:\n%s\n", heading, i+1, recips[i].Text, s)
	}
}

// decryptShare returns the share inside an age file (armored or binary).
func Decrypt(ciphertext []byte, ids []age.Identity, identityPath string) (string, error) {
	var src io.Reader = bytes.NewReader(ciphertext)
	if bytes.HasPrefix(bytes.TrimSpace(ciphertext), []byte("-----BEGIN AGE ENCRYPTED FILE-----")) {
		src = armor.NewReader(bytes.NewReader(bytes.TrimSpace(ciphertext)))
	}
	r, err := age.Decrypt(src, ids...)
	var nomatch *age.NoIdentityMatchError
	switch {
	case errors.As(err, &nomatch):
		return "", fmt.Errorf("the share is not encrypted to the identity in %s (%v); use the identity of the recipient it was printed for", identityPath, err)
	case err != nil:
		return "", fmt.Errorf("not an age-encrypted share: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxInput))
	if err != nil {
		return "", fmt.Errorf("decrypting the share: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func ReadBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxInput+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxInput {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, MaxInput)
	}
	return b, nil
}
