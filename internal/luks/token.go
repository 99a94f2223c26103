package luks

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// TokenType is the LUKS2 token type the arca volume commands write.
const TokenType = "arca"

// Token is what a LUKS2 header carries for Arca: where to ask, and the
// passphrase wrapped by the volume's key. Everything but the right to
// unwrap it.
type Token struct {
	Type     string   `json:"type"`     // always "arca"
	Keyslots []string `json:"keyslots"` // the one keyslot the passphrase opens
	Address  string   `json:"arca_address"`
	Mount    string   `json:"arca_mount"`
	Volume   string   `json:"arca_volume"`
	Wrapped  string   `json:"arca_wrapped"`
}

// ErrBadToken: an arca token that is not well formed (edited by hand, or
// damaged). It is never used.
var ErrBadToken = errors.New("malformed arca token")

// ParseToken decodes and checks an arca token: every field a command puts
// into a request path or a cryptsetup argument is checked here first.
func ParseToken(raw []byte, tok *Token) error {
	if err := json.Unmarshal(raw, tok); err != nil {
		return fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	switch {
	case tok.Type != TokenType:
		return fmt.Errorf("%w: type %q", ErrBadToken, tok.Type)
	case len(tok.Keyslots) != 1:
		return fmt.Errorf("%w: it names %d keyslots, want 1", ErrBadToken, len(tok.Keyslots))
	case !ValidMount(tok.Mount):
		return fmt.Errorf("%w: mount %q", ErrBadToken, tok.Mount)
	case !ValidName(tok.Volume):
		return fmt.Errorf("%w: volume name %q", ErrBadToken, tok.Volume)
	case !strings.HasPrefix(tok.Wrapped, "arca:v"):
		return fmt.Errorf("%w: the wrapped passphrase is not an arca:v<N>: form", ErrBadToken)
	}
	if n, err := strconv.Atoi(tok.Keyslots[0]); err != nil || n < 0 || n > 31 || strconv.Itoa(n) != tok.Keyslots[0] {
		return fmt.Errorf("%w: keyslot %q", ErrBadToken, tok.Keyslots[0])
	}
	if u, err := url.Parse(tok.Address); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: server address %q", ErrBadToken, tok.Address)
	}
	return nil
}

// Slot returns the keyslot the token's passphrase opens (checked by
// ParseToken).
func (t Token) Slot() int {
	n, _ := strconv.Atoi(t.Keyslots[0])
	return n
}

// APIPath returns the path of one of the volume's endpoints.
func (t Token) APIPath(sub string) string {
	return t.Mount + "/volumes/" + t.Volume + "/" + sub
}

func ValidName(n string) bool {
	if n == "" || len(n) > 128 || n == "." || n == ".." {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// ValidMount accepts a mount path of name segments, without the slashes
// around it.
func ValidMount(m string) bool {
	if m == "" {
		return false
	}
	for _, seg := range strings.Split(m, "/") {
		if !ValidName(seg) {
			return false
		}
	}
	return true
}
