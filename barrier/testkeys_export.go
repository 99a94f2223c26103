//go:build arcakeys

package barrier

import (
	"encoding/hex"
	"os"
)

// exportKeysForTest writes the root key and every keyring term's key, in
// hex, to the file ARCA_TEST_KEYS_FILE names. It exists only in a build
// with the arcakeys tag, which the core-dump test makes to know what to
// look for; a release build has no such code (testkeys_none.go).
func exportKeysForTest(rootKey []byte, kr *storedKeyring) {
	path := os.Getenv("ARCA_TEST_KEYS_FILE")
	if path == "" {
		return
	}
	out := []byte("root " + hex.EncodeToString(rootKey) + "\n")
	for _, t := range kr.Terms {
		out = append(out, "term "+hex.EncodeToString(t.Key)+"\n"...)
	}
	_ = os.WriteFile(path, out, 0o600)
}
