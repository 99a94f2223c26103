package volume

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// wrapPrefix starts every wrapped passphrase, followed by "v<version>:".
const wrapPrefix = "arca:"

// Errors of Unwrap for a wrapped form that is not one, or does not open.
var (
	ErrMalformed = errors.New("not a wrapped volume passphrase")
	ErrNoOpen    = errors.New("the wrapped passphrase does not open under this volume's key (altered, or wrapped for another volume)")
)

// associatedData binds a wrapping to its volume and key version.
func associatedData(name string, version int) []byte {
	return []byte("arca-volume\x00" + name + "\x00" + strconv.Itoa(version))
}

func (k kek) aead() (cipher.AEAD, error) {
	block, err := aes.NewCipher(k.b)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// wrap seals plaintext for volume name under key version v.
func (k kek) wrap(name string, version int, plaintext []byte) (string, error) {
	g, err := k.aead()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("drawing a nonce: %w", err)
	}
	sealed := g.Seal(nonce, nonce, plaintext, associatedData(name, version))
	return wrapPrefix + "v" + strconv.Itoa(version) + ":" + base64.StdEncoding.EncodeToString(sealed), nil
}

// unwrap opens a wrapping made by wrap with the same name and version.
func (k kek) unwrap(name string, version int, body []byte) ([]byte, error) {
	g, err := k.aead()
	if err != nil {
		return nil, err
	}
	if len(body) < g.NonceSize()+g.Overhead() {
		return nil, ErrMalformed
	}
	pt, err := g.Open(nil, body[:g.NonceSize()], body[g.NonceSize():], associatedData(name, version))
	if err != nil {
		return nil, ErrNoOpen
	}
	return pt, nil
}

// parseWrapped splits "arca:v<N>:<base64>" into its version and body.
func parseWrapped(s string) (int, []byte, error) {
	rest, ok := strings.CutPrefix(s, wrapPrefix+"v")
	if !ok {
		return 0, nil, ErrMalformed
	}
	num, b64, ok := strings.Cut(rest, ":")
	if !ok {
		return 0, nil, ErrMalformed
	}
	v, err := strconv.Atoi(num)
	if err != nil || v < 1 || strconv.Itoa(v) != num {
		return 0, nil, ErrMalformed
	}
	// The decoder skips line breaks; a wrapped form has one spelling.
	body, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || base64.StdEncoding.EncodeToString(body) != b64 {
		return 0, nil, ErrMalformed
	}
	return v, body, nil
}
