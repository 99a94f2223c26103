package transit

import (
	"fmt"
	"net/http"
	"strings"
)

// Error is a call to the transit server that did not succeed: the server
// could not be reached, refused, or answered something that is not a
// transit answer. It matches seal.ErrUnwrap when the server refused to
// decrypt a ciphertext (its key does not open it, or the key is gone), and
// seal.ErrUnavailable otherwise. It never carries the token or a
// plaintext: the server's messages are about the request, which holds
// neither in its URL.
type Error struct {
	// Op is the call: "encrypt", "decrypt", "lookup-self" or "renew-self".
	Op string
	// URL is where the call went.
	URL string
	// Status is the HTTP status, or 0 when the server did not answer.
	Status int
	// Messages are the server's errors, shortened, or what was wrong with
	// its answer.
	Messages []string
	// Err is why the server could not be reached (Status 0).
	Err error

	kind error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "transit %s at %s: ", e.Op, e.URL)
	switch {
	case e.Status == 0:
		fmt.Fprintf(&b, "the transit server cannot be reached: %v", e.Err)
	case e.Status == http.StatusForbidden:
		b.WriteString("permission denied (403): the seal's token is invalid, revoked or expired, or its policy does not allow this call")
	case e.Status == http.StatusServiceUnavailable:
		b.WriteString("the transit server is unavailable or sealed (503)")
	case e.Status/100 == 2:
		b.WriteString("the transit server's answer is not a transit answer")
	default:
		fmt.Fprintf(&b, "the transit server refused (%d)", e.Status)
	}
	if len(e.Messages) > 0 {
		fmt.Fprintf(&b, ": %s", strings.Join(e.Messages, "; "))
	}
	fmt.Fprintf(&b, ": %v", e.kind)
	return b.String()
}

// Unwrap returns the seal error e matches and, for a server out of reach,
// the connection error.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.kind, e.Err}
	}
	return []error{e.kind}
}

const (
	maxMessages   = 4
	maxMessageLen = 200
)

// cleanMessages keeps a few of the server's messages, short and printable,
// so that a hostile or broken server cannot flood the log.
func cleanMessages(msgs []string) []string {
	var out []string
	for _, m := range msgs[:min(len(msgs), maxMessages)] {
		m = strings.Map(func(r rune) rune {
			if r < ' ' || r == 0x7f {
				return ' '
			}
			return r
		}, m)
		if r := []rune(m); len(r) > maxMessageLen {
			m = string(r[:maxMessageLen]) + "…"
		}
		out = append(out, m)
	}
	return out
}
