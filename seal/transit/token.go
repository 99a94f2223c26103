package transit

import "log/slog"

// redacted is how a Token prints.
const redacted = "[redacted]"

// Token is the seal's token for the transit server. It prints, logs and
// marshals as "[redacted]"; only the client reads it, to set the request
// header. Tokens are not comparable with ==.
type Token struct {
	_ [0]func()
	s string
}

// NewToken returns s as a Token.
func NewToken(s string) Token { return Token{s: s} }

// IsZero reports whether the token is empty.
func (t Token) IsZero() bool { return t.s == "" }

func (t Token) reveal() string { return t.s }

// String returns "[redacted]".
func (Token) String() string { return redacted }

// GoString returns "[redacted]", for %#v.
func (Token) GoString() string { return redacted }

// LogValue returns "[redacted]", for log/slog.
func (Token) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText returns "[redacted]", for encoding/json and friends.
func (Token) MarshalText() ([]byte, error) { return []byte(redacted), nil }
