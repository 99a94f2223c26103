package logical

// Small pieces every engine needs in the same form, so that they answer
// alike.

// NameChars reports whether s holds only letters, digits and "-_.", the
// characters Vault's path patterns accept in the names of roles, entries
// and policies (nothing that could reach another storage path).
func NameChars(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// ListResponse answers a list with keys, or with nothing (404) when there
// are none, as Vault does.
func ListResponse(keys []string) *Response {
	if len(keys) == 0 {
		return nil
	}
	return &Response{Data: map[string]any{"keys": keys}}
}

// NonNil returns s, or an empty list for nil, so that a response shows
// [] rather than null.
func NonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
