package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// arcaTokenType is the LUKS2 token type the arca volume commands write.
const arcaTokenType = "arca"

// arcaToken is what a LUKS2 header carries for Arca: where to ask, and the
// passphrase wrapped by the volume's key. Everything but the right to
// unwrap it.
type arcaToken struct {
	Type     string   `json:"type"`     // always "arca"
	Keyslots []string `json:"keyslots"` // the one keyslot the passphrase opens
	Address  string   `json:"arca_address"`
	Mount    string   `json:"arca_mount"`
	Volume   string   `json:"arca_volume"`
	Wrapped  string   `json:"arca_wrapped"`
}

// errBadToken: an arca token that is not well formed (edited by hand, or
// damaged). It is never used.
var errBadToken = errors.New("malformed arca token")

// parseToken decodes and checks an arca token: every field a command puts
// into a request path or a cryptsetup argument is checked here first.
func parseToken(raw []byte, tok *arcaToken) error {
	if err := json.Unmarshal(raw, tok); err != nil {
		return fmt.Errorf("%w: %v", errBadToken, err)
	}
	switch {
	case tok.Type != arcaTokenType:
		return fmt.Errorf("%w: type %q", errBadToken, tok.Type)
	case len(tok.Keyslots) != 1:
		return fmt.Errorf("%w: it names %d keyslots, want 1", errBadToken, len(tok.Keyslots))
	case !validMount(tok.Mount):
		return fmt.Errorf("%w: mount %q", errBadToken, tok.Mount)
	case !validVolumeName(tok.Volume):
		return fmt.Errorf("%w: volume name %q", errBadToken, tok.Volume)
	case !strings.HasPrefix(tok.Wrapped, "arca:v"):
		return fmt.Errorf("%w: the wrapped passphrase is not an arca:v<N>: form", errBadToken)
	}
	if n, err := strconv.Atoi(tok.Keyslots[0]); err != nil || n < 0 || n > 31 || strconv.Itoa(n) != tok.Keyslots[0] {
		return fmt.Errorf("%w: keyslot %q", errBadToken, tok.Keyslots[0])
	}
	if u, err := url.Parse(tok.Address); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: server address %q", errBadToken, tok.Address)
	}
	return nil
}

// slot returns the keyslot the token's passphrase opens (checked by
// parseToken).
func (t arcaToken) slot() int {
	n, _ := strconv.Atoi(t.Keyslots[0])
	return n
}

// apiPath returns the path of one of the volume's endpoints.
func (t arcaToken) apiPath(sub string) string {
	return t.Mount + "/volumes/" + t.Volume + "/" + sub
}

func validVolumeName(n string) bool {
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

// validMount accepts a mount path of name segments, without the slashes
// around it.
func validMount(m string) bool {
	if m == "" {
		return false
	}
	for _, seg := range strings.Split(m, "/") {
		if !validVolumeName(seg) {
			return false
		}
	}
	return true
}
