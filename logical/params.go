package logical

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Helpers that read typed values from a request's Data (decoded JSON with
// json.Number, or query strings). Each error is an ErrInvalidRequest that
// names the field and never echoes its value.

// StringParam reads a string; absent is "".
func StringParam(data map[string]any, key string) (string, error) {
	switch v := data[key].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	}
	return "", Errorf(ErrInvalidRequest, "%s must be a string", key)
}

// BoolParam reads a boolean (true/false or their strings); ok says present.
func BoolParam(data map[string]any, key string) (v, ok bool, err error) {
	switch x := data[key].(type) {
	case nil:
		return false, false, nil
	case bool:
		return x, true, nil
	case string:
		if b, err := strconv.ParseBool(x); err == nil {
			return b, true, nil
		}
	}
	return false, false, Errorf(ErrInvalidRequest, "%s must be a boolean", key)
}

// IntParam reads a non-negative integer; ok says present.
func IntParam(data map[string]any, key string) (v int, ok bool, err error) {
	var s string
	switch x := data[key].(type) {
	case nil:
		return 0, false, nil
	case json.Number:
		s = x.String()
	case string:
		s = x
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		s = strconv.Itoa(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	default:
		return 0, false, Errorf(ErrInvalidRequest, "%s must be an integer", key)
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, false, Errorf(ErrInvalidRequest, "%s must be a non-negative integer", key)
	}
	return n, true, nil
}

// DurationParam reads a duration given as seconds (number or numeric
// string) or a Go duration string ("1h30m"); ok says present.
func DurationParam(data map[string]any, key string) (d time.Duration, ok bool, err error) {
	bad := Errorf(ErrInvalidRequest, "%s must be a duration such as \"1h\" or a number of seconds", key)
	var s string
	switch x := data[key].(type) {
	case nil:
		return 0, false, nil
	case json.Number:
		s = x.String()
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		s = strings.TrimSpace(x)
		if s == "" {
			return 0, true, nil
		}
	default:
		return 0, false, bad
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > int64(100*365*24*time.Hour/time.Second) {
			return 0, false, bad
		}
		return time.Duration(n) * time.Second, true, nil
	}
	d, err = time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, false, bad
	}
	return d, true, nil
}

// StringListParam reads a list of strings, given as a JSON array or a
// comma-separated string.
func StringListParam(data map[string]any, key string) ([]string, error) {
	switch x := data[key].(type) {
	case nil:
		return nil, nil
	case string:
		var out []string
		for _, p := range strings.Split(x, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, Errorf(ErrInvalidRequest, "%s must be a list of strings", key)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, Errorf(ErrInvalidRequest, "%s must be a list of strings", key)
}

// StringMapParam reads an object of strings.
func StringMapParam(data map[string]any, key string) (map[string]string, error) {
	switch x := data[key].(type) {
	case nil:
		return nil, nil
	case map[string]any:
		out := make(map[string]string, len(x))
		for k, v := range x {
			s, ok := v.(string)
			if !ok {
				return nil, Errorf(ErrInvalidRequest, "%s.%s must be a string", key, k)
			}
			out[k] = s
		}
		return out, nil
	}
	return nil, Errorf(ErrInvalidRequest, "%s must be an object of strings", key)
}
