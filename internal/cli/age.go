package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"github.com/arca-secrets/arca/internal/ageshare"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"github.com/openbao/openbao/api/v2"
	"golang.org/x/crypto/ssh"
	"golang.org/x/term"
)

// Key shares encrypted to their holders with age. This is all on the
// client's side: the server hands the shares to the command over its
// connection, and the command prints each one encrypted to one recipient,
// never in clear. A holder decrypts theirs with -age-identity (or with the
// age tool: the share inside is the base64 text unseal takes).

// readAgeIdentities reads -age-identity: an age identity file
// (AGE-SECRET-KEY-1...) or an SSH private key (ed25519 or RSA; one with a
// passphrase asks for it on the terminal).
func readAgeIdentities(e *env, path string) ([]age.Identity, error) {
	b, err := ageshare.ReadBounded(path)
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
		ct, err = ageshare.ReadBounded(pos[0])
	} else {
		if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			fmt.Fprintln(e.stderr, "Paste the age-encrypted share, then press Ctrl-D:")
		}
		ct, err = io.ReadAll(io.LimitReader(bufio.NewReader(e.stdin), ageshare.MaxInput))
	}
	if err != nil {
		return "", fmt.Errorf("reading the encrypted share: %w", err)
	}
	return ageshare.Decrypt(ct, ids, identityPath)
}

// printInitAge prints init's answer with each share encrypted to its
// recipient. The recipients were checked before init, so encryption cannot
// fail for want of a usable key; should it fail all the same, the shares
// go to stderr in clear with a warning, since a server whose shares are
// lost can never be unsealed.
func printInitAge(e *env, format string, resp *api.InitResponse, threshold int, recips []ageshare.Recipient) int {
	enc, err := ageshare.EncryptAll(resp.KeysB64, recips)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error encrypting the key shares: %v\nThe server is initialised: these are its shares IN CLEAR; keep them safe or the data is lost:\n%s\n", err, strings.Join(resp.KeysB64, "\n"))
		return exitError
	}
	texts := make([]string, len(recips))
	for i, r := range recips {
		texts[i] = r.Text
	}
	if format == "json" {
		_ = printJSON(e.stdout, map[string]any{"unseal_keys_age": enc, "unseal_keys_age_recipients": texts, "unseal_shares": len(enc), "unseal_threshold": threshold, "root_token": resp.RootToken})
		return exitOK
	}
	ageshare.Print(e.stdout, "Unseal Key", enc, recips)
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
func printRekeyAge(e *env, format string, up *api.RekeyUpdateResponse, recips []ageshare.Recipient) int {
	enc, err := ageshare.EncryptAll(up.KeysB64, recips)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error encrypting the new key shares: %v\nThe rekey is done: these are the new shares IN CLEAR; keep them safe or the data is lost:\n%s\n", err, strings.Join(up.KeysB64, "\n"))
		return exitError
	}
	if format == "json" {
		texts := make([]string, len(recips))
		for i, r := range recips {
			texts[i] = r.Text
		}
		_ = printJSON(e.stdout, map[string]any{"nonce": up.Nonce, "complete": true, "keys_age": enc, "keys_age_recipients": texts})
		return exitOK
	}
	ageshare.Print(e.stdout, "Key", enc, recips)
	fmt.Fprintf(e.stdout, "Arca unseal key rekeyed with %d key shares, each encrypted with age to one recipient.\n", len(enc))
	fmt.Fprintln(e.stdout, "Send each holder their block: the old shares no longer unseal this server.")
	return exitOK
}
