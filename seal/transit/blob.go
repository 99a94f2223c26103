package transit

import (
	"errors"
	"fmt"
	"strings"

	"github.com/arca-secrets/arca/seal"
)

// blobV1 is the first byte of a wrapped root key: version 1, followed by
// the transit ciphertext as the transit server returned it
// ("vault:vN:BASE64"), so that an operator can read the key version in
// storage and the transit server alone can open it.
const blobV1 = 0x01

// maxCiphertext bounds a ciphertext this seal accepts: a 32-byte root key
// under any symmetric transit key is far below it.
const maxCiphertext = 4096

var errNotCiphertext = errors.New("not a transit ciphertext")

func encodeBlob(ciphertext string) []byte {
	return append([]byte{blobV1}, ciphertext...)
}

// decodeBlob returns the ciphertext in b. Bytes that cannot be a blob of
// this seal give ErrUnwrap without a call to the transit server.
func decodeBlob(b []byte) (string, error) {
	if len(b) == 0 {
		return "", fmt.Errorf("%w: the wrapped root key is empty", seal.ErrUnwrap)
	}
	if b[0] != blobV1 {
		return "", fmt.Errorf("%w: unknown transit seal blob version %d", seal.ErrUnwrap, b[0])
	}
	ct := string(b[1:])
	if err := checkCiphertext(ct); err != nil {
		return "", fmt.Errorf("%w: the wrapped root key is %w", seal.ErrUnwrap, err)
	}
	return ct, nil
}

// checkCiphertext accepts "vault:v" DIGITS ":" and a printable rest: the
// shape of a transit ciphertext, whose content only the transit server
// can judge.
func checkCiphertext(ct string) error {
	rest, ok := strings.CutPrefix(ct, "vault:v")
	if !ok || len(ct) > maxCiphertext {
		return errNotCiphertext
	}
	version, body, ok := strings.Cut(rest, ":")
	if !ok || version == "" || body == "" {
		return errNotCiphertext
	}
	for _, r := range version {
		if r < '0' || r > '9' {
			return errNotCiphertext
		}
	}
	for i := 0; i < len(body); i++ {
		if body[i] <= ' ' || body[i] > '~' {
			return errNotCiphertext
		}
	}
	return nil
}
