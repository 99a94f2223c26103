package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
)

// Salt holds a device's HMAC key.
type Salt struct{ key []byte }

// NewSalt wraps key (32 random bytes, kept in the barrier by core).
func NewSalt(key []byte) *Salt { return &Salt{key: append([]byte(nil), key...)} }

// Hash returns "hmac-sha256:<hex>" of v, the form written to the log.
func (s *Salt) Hash(v string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(v))
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))
}

// hashValues replaces every string in v (maps, lists, nested) by its
// HMAC, keeping the structure, so the log shows which fields were sent
// without their values. Numbers and booleans are hashed as their text.
func (s *Salt) hashValues(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return s.Hash(x)
	case json.Number:
		return s.Hash(x.String())
	case bool:
		if x {
			return s.Hash("true")
		}
		return s.Hash("false")
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = s.hashValues(e)
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = s.Hash(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = s.hashValues(e)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = s.Hash(e)
		}
		return out
	}
	// Anything else is rendered as JSON first; it never reaches the log
	// in the clear.
	b, err := json.Marshal(v)
	if err != nil {
		return s.Hash("unencodable")
	}
	return s.Hash(string(b))
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
