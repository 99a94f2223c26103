package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"filippo.io/age/armor"
	"github.com/openbao/openbao/api/v2"
	"golang.org/x/crypto/ssh"
	"golang.org/x/term"
)

// Key shares encrypted to their holders with age. This is all on the
// client's side: the server hands the shares to the command over its
// connection, and the command prints each one encrypted to one recipient,
// never in clear. A holder decrypts theirs with -age-identity (or with the
// age tool: the share inside is the base64 text unseal takes).

// maxAgeInput bounds an identity or encrypted share file read by a command.
const maxAgeInput = 1 << 20

// ageRecipient is one holder's public key, and how it was written (shown
// beside the share so that holders can find theirs).
type ageRecipient struct {
	recipient age.Recipient
	text      string
}

// parseAgeRecipients reads -age-recipients: the path of a file with one
// recipient a line ('#' comments and blank lines skipped), or a
// comma-separated list. A recipient is an age public key (age1...) or an
// SSH public key (ssh-ed25519 or ssh-rsa, as in authorized_keys). want is
// the number of shares: there must be exactly one recipient for each, and
// no recipient twice.
func parseAgeRecipients(arg string, want int) ([]ageRecipient, error) {
	var lines []string
	if st, err := os.Stat(arg); err == nil && st.Mode().IsRegular() {
		b, err := readBounded(arg)
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
	var out []ageRecipient
	seen := map[string]bool{}
	for i, l := range lines {
		if strings.HasPrefix(strings.ToUpper(l), "AGE-SECRET-KEY-") || strings.Contains(l, "PRIVATE KEY") {
			// Never echo it: it is the holder's secret.
			return nil, fmt.Errorf("-age-recipients: recipient %d is a private key; give the holder's public key (age1... or ssh-...), and keep the private key to the holder", i+1)
		}
		r, err := parseAgeRecipient(l)
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
		out = append(out, ageRecipient{recipient: r, text: l})
	}
	if len(out) != want {
		return nil, fmt.Errorf("-age-recipients: %d recipients for %d key shares; give one recipient for each share", len(out), want)
	}
	// Encrypt once to each before anything is asked of the server, so that
	// a recipient age cannot use is found while no share exists yet.
	for i, r := range out {
		if _, err := encryptShare("check", r); err != nil {
			return nil, fmt.Errorf("-age-recipients: recipient %d: %w", i+1, err)
		}
	}
	return out, nil
}

func parseAgeRecipient(s string) (age.Recipient, error) {
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
func encryptShare(share string, r ageRecipient) (string, error) {
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
func encryptShares(shares []string, recips []ageRecipient) ([]string, error) {
	if len(shares) != len(recips) {
		return nil, fmt.Errorf("%d shares for %d recipients", len(shares), len(recips))
	}
	out := make([]string, len(shares))
	for i, s := range shares {
		enc, err := encryptShare(s, recips[i])
		if err != nil {
			return nil, fmt.Errorf("encrypting share %d to %s: %w", i+1, recips[i].text, err)
		}
		out[i] = enc
	}
	return out, nil
}

// printAgeShares prints each encrypted share under a heading naming its
// recipient.
func printAgeShares(w io.Writer, heading string, enc []string, recips []ageRecipient) {
	for i, s := range enc {
		fmt.Fprintf(w, "%s %d, encrypted to %s:\n%s\n", heading, i+1, recips[i].text, s)
	}
}

// readAgeIdentities reads -age-identity: an age identity file
// (AGE-SECRET-KEY-1...) or an SSH private key (ed25519 or RSA; one with a
// passphrase asks for it on the terminal).
func readAgeIdentities(e *env, path string) ([]age.Identity, error) {
	b, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(b, []byte("-----BEGIN")) {
		ids, err := age.ParseIdentities(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("-age-identity %s: %w", path, err)
		}
		return ids, nil
	}
	id, err := agessh.ParseIdentity(b)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) && missing.PublicKey != nil {
		ask := func() ([]byte, error) {
			f, ok := e.stdin.(*os.File)
			if !ok || !term.IsTerminal(int(f.Fd())) {
				return nil, errors.New("the SSH key has a passphrase and there is no terminal to ask for it")
			}
			fmt.Fprintf(e.stderr, "Passphrase for %s: ", path)
			defer fmt.Fprintln(e.stderr)
			return term.ReadPassword(int(f.Fd()))
		}
		enc, err := agessh.NewEncryptedSSHIdentity(missing.PublicKey, b, ask)
		if err != nil {
			return nil, fmt.Errorf("-age-identity %s: %w", path, err)
		}
		return []age.Identity{enc}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("-age-identity %s: not an SSH private key age can use: %w", path, err)
	}
	return []age.Identity{id}, nil
}

// decryptShare returns the share inside an age file (armored or binary).
func decryptShare(ciphertext []byte, ids []age.Identity, identityPath string) (string, error) {
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
	b, err := io.ReadAll(io.LimitReader(r, maxAgeInput))
	if err != nil {
		return "", fmt.Errorf("decrypting the share: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// readShareArg is the key share a command submits: the positional
// argument, or the hidden prompt. With -age-identity the argument names a
// file holding an age-encrypted share ("-" or none: standard input), which
// is decrypted with the identity.
func readShareArg(e *env, pos []string, identityPath, prompt string) (string, error) {
	if identityPath == "" {
		if len(pos) == 1 {
			return pos[0], nil
		}
		return readSecret(e, prompt)
	}
	ids, err := readAgeIdentities(e, identityPath)
	if err != nil {
		return "", err
	}
	var ct []byte
	if len(pos) == 1 && pos[0] != "-" {
		ct, err = readBounded(pos[0])
	} else {
		if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			fmt.Fprintln(e.stderr, "Paste the age-encrypted share, then press Ctrl-D:")
		}
		ct, err = io.ReadAll(io.LimitReader(bufio.NewReader(e.stdin), maxAgeInput))
	}
	if err != nil {
		return "", fmt.Errorf("reading the encrypted share: %w", err)
	}
	return decryptShare(ct, ids, identityPath)
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxAgeInput+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxAgeInput {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxAgeInput)
	}
	return b, nil
}

// printInitAge prints init's answer with each share encrypted to its
// recipient. The recipients were checked before init, so encryption cannot
// fail for want of a usable key; should it fail all the same, the shares
// go to stderr in clear with a warning, since a server whose shares are
// lost can never be unsealed.
func printInitAge(e *env, format string, resp *api.InitResponse, threshold int, recips []ageRecipient) int {
	enc, err := encryptShares(resp.KeysB64, recips)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error encrypting the key shares: %v\nThe server is initialised: these are its shares IN CLEAR; keep them safe or the data is lost:\n%s\n", err, strings.Join(resp.KeysB64, "\n"))
		return exitError
	}
	texts := make([]string, len(recips))
	for i, r := range recips {
		texts[i] = r.text
	}
	if format == "json" {
		_ = printJSON(e.stdout, map[string]any{"unseal_keys_age": enc, "unseal_keys_age_recipients": texts, "unseal_shares": len(enc), "unseal_threshold": threshold, "root_token": resp.RootToken})
		return exitOK
	}
	printAgeShares(e.stdout, "Unseal Key", enc, recips)
	fmt.Fprintf(e.stdout, "Initial Root Token: %s\n\n", resp.RootToken)
	fmt.Fprintf(e.stdout, "Arca initialized with %d key shares, each encrypted with age to one recipient,\n", len(enc))
	fmt.Fprintf(e.stdout, "and a key threshold of %d. Send each holder their block; they unseal with\n", threshold)
	fmt.Fprintln(e.stdout, "  arca operator unseal -age-identity IDENTITY_FILE SHARE_FILE")
	return exitOK
}

// printRekeyAge prints a finished rekey's new shares, each encrypted to
// its recipient (checked before the last share was sent). As in
// printInitAge, a failure to encrypt prints them in clear on stderr rather
// than lose them.
func printRekeyAge(e *env, format string, up *api.RekeyUpdateResponse, recips []ageRecipient) int {
	enc, err := encryptShares(up.KeysB64, recips)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error encrypting the new key shares: %v\nThe rekey is done: these are the new shares IN CLEAR; keep them safe or the data is lost:\n%s\n", err, strings.Join(up.KeysB64, "\n"))
		return exitError
	}
	if format == "json" {
		texts := make([]string, len(recips))
		for i, r := range recips {
			texts[i] = r.text
		}
		_ = printJSON(e.stdout, map[string]any{"nonce": up.Nonce, "complete": true, "keys_age": enc, "keys_age_recipients": texts})
		return exitOK
	}
	printAgeShares(e.stdout, "Key", enc, recips)
	fmt.Fprintf(e.stdout, "Arca unseal key rekeyed with %d key shares, each encrypted with age to one recipient.\n", len(enc))
	fmt.Fprintln(e.stdout, "Send each holder their block: the old shares no longer unseal this server.")
	return exitOK
}
