package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// tokenFile is where "arca login" keeps the token, like ~/.vault-token:
// $ARCA_TOKEN_PATH, or ~/.arca-token.
func (e *env) tokenFile() (string, error) {
	if p := e.getenv("ARCA_TOKEN_PATH"); p != "" {
		return p, nil
	}
	home := e.getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("finding the home directory for the token file: %w", err)
		}
	}
	return filepath.Join(home, ".arca-token"), nil
}

// storedToken returns the token saved by "arca login", or "".
func (e *env) storedToken() string {
	path, err := e.tokenFile()
	if err != nil {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// storeToken writes the token file with mode 0600, replacing it
// atomically so that no other user can read it even for a moment.
func (e *env) storeToken(tok string) (string, error) {
	path, err := e.tokenFile()
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".arca-token-*")
	if err != nil {
		return "", fmt.Errorf("writing token file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", err
	}
	if _, err := tmp.WriteString(tok); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("writing token file: %w", err)
	}
	return path, nil
}
