package server

import (
	"errors"
	"fmt"
	"time"
)

// Limits bound what one request may cost before and after its token is
// checked. The zero value of each field means its default; the names
// are the listener keys of Vault's configuration where Vault has one.
type Limits struct {
	// MaxRequestSize bounds an authenticated request's body
	// (max_request_size; default 32 MiB, as in Vault).
	MaxRequestSize int64
	// MaxRequestDuration bounds how long a request may run
	// (max_request_duration; default 90 s, as in Vault).
	MaxRequestDuration time.Duration
	// MaxConcurrentRequests bounds requests in flight on the listener;
	// past it, requests are refused with 503 at once
	// (max_concurrent_requests; default 1024).
	MaxConcurrentRequests int
	// JSON bounds a body's shape (max_json_depth, default 100;
	// max_json_string_value_length, default 1 MiB;
	// max_json_object_entry_count and max_json_array_element_count,
	// default 10,000 each; max_json_total_elements, Arca's own, default
	// 200,000: many wide arrays cost memory as one huge one does).
	JSON JSONLimits
	// AllowUnauthedRekey serves sys/rekey/* without a token, as Vault
	// does. By default (disable_unauthed_rekey_endpoints = true, as in
	// OpenBao) rekey is an audited route that needs a token with sudo.
	AllowUnauthedRekey bool
	// UnauthenticatedMetrics serves sys/metrics without a token
	// (telemetry { unauthenticated_metrics_access = true }).
	UnauthenticatedMetrics bool
	// AllowUnauthedGenerateRoot serves sys/generate-root/* without a
	// token, as Vault does. By default
	// (disable_unauthed_generate_root_endpoints = true, as in OpenBao) it
	// is an audited route that needs a token with sudo.
	AllowUnauthedGenerateRoot bool
}

// maxUnauthenticatedBody bounds the body of a request served without a
// token (logins, init, unseal): what they need is a few hundred bytes.
const maxUnauthenticatedBody = 64 << 10

// JSONLimits bound the shape of a JSON body.
type JSONLimits struct {
	MaxDepth, MaxStringLength, MaxObjectEntries, MaxArrayElements, MaxElements int
}

// withDefaults fills the zero fields.
func (l Limits) withDefaults() Limits {
	if l.MaxRequestSize <= 0 {
		l.MaxRequestSize = 32 << 20
	}
	if l.MaxRequestDuration <= 0 {
		l.MaxRequestDuration = 90 * time.Second
	}
	if l.MaxConcurrentRequests <= 0 {
		l.MaxConcurrentRequests = 1024
	}
	if l.JSON.MaxDepth <= 0 {
		l.JSON.MaxDepth = 100
	}
	if l.JSON.MaxStringLength <= 0 {
		l.JSON.MaxStringLength = 1 << 20
	}
	if l.JSON.MaxObjectEntries <= 0 {
		l.JSON.MaxObjectEntries = 10000
	}
	if l.JSON.MaxArrayElements <= 0 {
		l.JSON.MaxArrayElements = 10000
	}
	if l.JSON.MaxElements <= 0 {
		l.JSON.MaxElements = 200000
	}
	return l
}

// unauthenticatedBody is the body bound for requests without a token.
func (l Limits) unauthenticatedBody() int64 {
	return min(l.MaxRequestSize, maxUnauthenticatedBody)
}

// errSlowBody: the body did not arrive within the request's time (408).
var errSlowBody = errors.New("the request body did not arrive in time (max_request_duration)")

// tooLarge is a body past its bound (413).
type tooLarge struct{ limit int64 }

func (e *tooLarge) Error() string {
	return fmt.Sprintf("request body is larger than %d bytes (max_request_size)", e.limit)
}

func (e *tooLarge) Unwrap() error { return errTooLarge }

// checkJSONShape walks raw once, without building anything, and refuses
// a body nested deeper, or with longer strings or more entries than lim
// allows, before the decoder allocates for it. raw need not be valid
// JSON: the decoder that follows reports syntax errors.
func checkJSONShape(raw []byte, lim JSONLimits) error {
	type frame struct {
		array bool
		count int
	}
	var stack []frame
	total := 0
	tooMany := func() error {
		total++
		if total > lim.MaxElements {
			return &badRequest{fmt.Sprintf("failed to parse JSON input: more than %d values in all (max_json_total_elements)", lim.MaxElements)}
		}
		return nil
	}
	inString, escaped := false, false
	strStart := 0
	for i, b := range raw {
		if inString {
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
				if i-strStart > lim.MaxStringLength {
					return &badRequest{fmt.Sprintf("failed to parse JSON input: a string is longer than %d bytes (max_json_string_value_length)", lim.MaxStringLength)}
				}
			}
			continue
		}
		switch b {
		case '"':
			inString, strStart = true, i+1
		case '{', '[':
			if len(stack) >= lim.MaxDepth {
				return &badRequest{fmt.Sprintf("failed to parse JSON input: nested deeper than %d levels (max_json_depth)", lim.MaxDepth)}
			}
			stack = append(stack, frame{array: b == '['})
			if err := tooMany(); err != nil {
				return err
			}
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ',':
			if len(stack) == 0 {
				continue
			}
			if err := tooMany(); err != nil {
				return err
			}
			top := &stack[len(stack)-1]
			top.count++
			if top.array && top.count >= lim.MaxArrayElements {
				return &badRequest{fmt.Sprintf("failed to parse JSON input: an array has more than %d elements (max_json_array_element_count)", lim.MaxArrayElements)}
			}
			if !top.array && top.count >= lim.MaxObjectEntries {
				return &badRequest{fmt.Sprintf("failed to parse JSON input: an object has more than %d entries (max_json_object_entry_count)", lim.MaxObjectEntries)}
			}
		}
	}
	return nil
}

type slotKey struct{}

// slot is a request's place among max_concurrent_requests: held while
// the request works, released while it waits on its client.
type slot struct {
	pool chan struct{}
	held bool
}

// take claims a place, or reports that none is free.
func (sl *slot) take() bool {
	if sl == nil {
		return true
	}
	select {
	case sl.pool <- struct{}{}:
		sl.held = true
		return true
	default:
		return false
	}
}

func (sl *slot) release() {
	if sl != nil && sl.held {
		<-sl.pool
		sl.held = false
	}
}
