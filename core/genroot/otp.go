package genroot

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/arca-secrets/arca/token"
)

// OTPLength is the length of the one-time pad: a token's own, as Vault
// reports it in otp_length.
const OTPLength = token.IDLength

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// ErrDecode: an encoded token that is not base64 or does not match the
// OTP's length.
var ErrDecode = errors.New("cannot decode the token")

// NewOTP returns OTPLength uniformly random base62 characters.
func NewOTP() (string, error) {
	out := make([]byte, 0, OTPLength)
	var b [1]byte
	for len(out) < OTPLength {
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		if b[0] < 248 { // 248 = 4·62: rejecting the rest keeps it uniform
			out = append(out, base62[b[0]%62])
		}
	}
	return string(out), nil
}

func validOTP(otp string) bool {
	if len(otp) != OTPLength {
		return false
	}
	for i := 0; i < len(otp); i++ {
		if strings.IndexByte(base62, otp[i]) < 0 {
			return false
		}
	}
	return true
}

// encode is id XOR otp in unpadded standard base64; both have the same
// length.
func encode(id string, otp []byte) string {
	x := make([]byte, len(id))
	subtle.XORBytes(x, []byte(id), otp)
	return base64.RawStdEncoding.EncodeToString(x)
}

// Decode returns the token that encoded holds under otp. Padded base64 is
// accepted too.
func Decode(encoded, otp string) (string, error) {
	encoded = strings.TrimRight(strings.TrimSpace(encoded), "=")
	x, err := base64.RawStdEncoding.DecodeString(encoded)
	if err != nil {
		return "", fmt.Errorf("%w: the encoded token is not base64", ErrDecode)
	}
	if len(x) != len(otp) {
		return "", fmt.Errorf("%w: the encoded token has %d bytes but the OTP %d; was it made with this OTP?", ErrDecode, len(x), len(otp))
	}
	subtle.XORBytes(x, x, []byte(otp))
	return string(x), nil
}

func randomNonce() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40 // a version 4 UUID, as Vault's nonces are
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}
