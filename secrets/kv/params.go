package kv

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/arca-secrets/arca/logical"
)

// Helpers that read typed values from a request's Data. Values arrive as
// json.Number from JSON bodies and as strings from query parameters; both
// are accepted, as Vault does. ok reports whether the field was present.

func intParam(data map[string]any, name string) (n int, ok bool, err error) {
	v, present := data[name]
	if !present || v == nil {
		return 0, false, nil
	}
	n, err = toInt(v, name)
	return n, err == nil, err
}

func toInt(v any, name string) (int, error) {
	bad := logical.Errorf(logical.ErrInvalidRequest, "%s must be an integer", name)
	switch x := v.(type) {
	case json.Number:
		n, err := strconv.ParseInt(x.String(), 10, 64)
		if err != nil || n > math.MaxInt32 || n < math.MinInt32 {
			return 0, bad
		}
		return int(n), nil
	case float64:
		if x != math.Trunc(x) || x > math.MaxInt32 || x < math.MinInt32 {
			return 0, bad
		}
		return int(x), nil
	case int:
		return x, nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 32)
		if err != nil {
			return 0, bad
		}
		return int(n), nil
	}
	return 0, bad
}

func boolParam(data map[string]any, name string) (b bool, ok bool, err error) {
	switch x := data[name].(type) {
	case nil:
		return false, false, nil
	case bool:
		return x, true, nil
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(x))
		if err != nil {
			return false, false, logical.Errorf(logical.ErrInvalidRequest, "%s must be a boolean", name)
		}
		return b, true, nil
	}
	return false, false, logical.Errorf(logical.ErrInvalidRequest, "%s must be a boolean", name)
}

// durationParam reads a Go duration string ("3h25m19s") or a number of
// seconds. Negative durations are refused.
func durationParam(data map[string]any, name string) (d time.Duration, ok bool, err error) {
	v, present := data[name]
	if !present || v == nil {
		return 0, false, nil
	}
	bad := logical.Errorf(logical.ErrInvalidRequest, "%s must be a duration such as \"1h30m\" or a number of seconds", name)
	switch x := v.(type) {
	case string:
		x = strings.TrimSpace(x)
		if x == "" {
			return 0, true, nil
		}
		if secs, err := strconv.ParseInt(x, 10, 64); err == nil {
			d = time.Duration(secs) * time.Second
		} else if d, err = time.ParseDuration(x); err != nil {
			return 0, false, bad
		}
	default:
		secs, err := toInt(v, name)
		if err != nil {
			return 0, false, bad
		}
		d = time.Duration(secs) * time.Second
	}
	if d < 0 {
		return 0, false, bad
	}
	return d, true, nil
}

// versionsParam reads the "versions" list of delete, undelete and destroy:
// a JSON array of integers, a comma-separated string, or one integer.
func versionsParam(data map[string]any) ([]int, error) {
	var raw []any
	switch x := data["versions"].(type) {
	case nil:
	case []any:
		raw = x
	case string:
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				raw = append(raw, s)
			}
		}
	default:
		raw = []any{x}
	}
	if len(raw) == 0 {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "no version number provided")
	}
	out := make([]int, 0, len(raw))
	for _, v := range raw {
		n, err := toInt(v, "versions")
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// Limits on custom metadata, the same as Vault's.
const (
	maxCustomMetadataKeys     = 64
	maxCustomMetadataKeyLen   = 128
	maxCustomMetadataValueLen = 512
)

// customMetadataParam reads custom_metadata, an object of strings. With
// allowNull (patch), a null value is kept as a nil entry meaning "remove";
// the returned map then holds *string values, nil for removal.
func customMetadataParam(data map[string]any, allowNull bool) (map[string]*string, bool, error) {
	v, present := data["custom_metadata"]
	if !present || v == nil {
		return nil, false, nil
	}
	obj, isObj := v.(map[string]any)
	if !isObj {
		return nil, false, logical.Errorf(logical.ErrInvalidRequest, "custom_metadata must be an object of strings")
	}
	out := make(map[string]*string, len(obj))
	for k, val := range obj {
		if len(k) > maxCustomMetadataKeyLen {
			return nil, false, logical.Errorf(logical.ErrInvalidRequest, "custom_metadata keys must be at most %d bytes", maxCustomMetadataKeyLen)
		}
		switch s := val.(type) {
		case string:
			if len(s) > maxCustomMetadataValueLen {
				return nil, false, logical.Errorf(logical.ErrInvalidRequest, "custom_metadata values must be at most %d bytes", maxCustomMetadataValueLen)
			}
			out[k] = &s
		case nil:
			if !allowNull {
				return nil, false, logical.Errorf(logical.ErrInvalidRequest, "custom_metadata values must be strings")
			}
			out[k] = nil
		default:
			return nil, false, logical.Errorf(logical.ErrInvalidRequest, "custom_metadata values must be strings")
		}
	}
	return out, true, nil
}

// objectParam reads a field that must be a JSON object when present.
func objectParam(data map[string]any, name string) (map[string]any, bool, error) {
	v, present := data[name]
	if !present || v == nil {
		return nil, false, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, false, logical.Errorf(logical.ErrInvalidRequest, "%s must be a JSON object", name)
	}
	return obj, true, nil
}
