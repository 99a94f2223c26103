package server

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Helpers that read typed values out of a decoded JSON body, with errors
// that name the field.

func stringParam(data map[string]any, key string) (string, error) {
	v, ok := data[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", &badRequest{fmt.Sprintf("%s must be a string", key)}
	}
	return s, nil
}

func boolParam(data map[string]any, key string) (bool, error) {
	switch v := data[key].(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case string:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, &badRequest{fmt.Sprintf("%s must be a boolean", key)}
		}
		return b, nil
	}
	return false, &badRequest{fmt.Sprintf("%s must be a boolean", key)}
}

// durationParam reads seconds given as a number, a numeric string, or a Go
// duration string ("1h30m"), as Vault accepts. ok is false when absent.
func durationParam(data map[string]any, key string) (secs int, ok bool, err error) {
	bad := &badRequest{fmt.Sprintf("%s must be a duration such as \"1h\" or a number of seconds", key)}
	switch v := data[key].(type) {
	case nil:
		return 0, false, nil
	case json.Number:
		n, err := v.Int64()
		if err != nil || n < 0 {
			return 0, false, bad
		}
		return int(n), true, nil
	case float64:
		if v < 0 || v != float64(int64(v)) {
			return 0, false, bad
		}
		return int(v), true, nil
	case string:
		v = strings.TrimSpace(v)
		if v == "" {
			return 0, true, nil
		}
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return n, true, nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return 0, false, bad
		}
		return int(d / time.Second), true, nil
	}
	return 0, false, bad
}

// stringMapParam reads an object of strings, such as mount options.
func stringMapParam(data map[string]any, key string) (map[string]string, error) {
	switch v := data[key].(type) {
	case nil:
		return nil, nil
	case map[string]any:
		out := make(map[string]string, len(v))
		for k, val := range v {
			switch x := val.(type) {
			case string:
				out[k] = x
			case json.Number:
				out[k] = x.String()
			default:
				return nil, &badRequest{fmt.Sprintf("%s.%s must be a string", key, k)}
			}
		}
		return out, nil
	}
	return nil, &badRequest{fmt.Sprintf("%s must be an object", key)}
}

func objectParam(data map[string]any, key string) (map[string]any, error) {
	switch v := data[key].(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return v, nil
	}
	return nil, &badRequest{fmt.Sprintf("%s must be an object", key)}
}
