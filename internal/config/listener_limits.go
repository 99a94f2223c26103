package config

import (
	"strconv"
	"time"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/hcl/hcl/token"
)

// ListenerLimits are a listener's request limits, under Vault's key names
// where Vault has them. Zero means the server's default.
type ListenerLimits struct {
	// MaxRequestSize is max_request_size, in bytes.
	MaxRequestSize int64
	// MaxRequestDuration is max_request_duration ("90s").
	MaxRequestDuration time.Duration
	// MaxConcurrentRequests is max_concurrent_requests.
	MaxConcurrentRequests int
	// MaxJSONDepth, MaxJSONStringLength, MaxJSONObjectEntries and
	// MaxJSONArrayElements are max_json_depth,
	// max_json_string_value_length, max_json_object_entry_count and
	// max_json_array_element_count.
	MaxJSONDepth, MaxJSONStringLength, MaxJSONObjectEntries, MaxJSONArrayElements int
	// MaxJSONElements is max_json_total_elements (Arca's own).
	MaxJSONElements int
	// AllowUnauthedRekey is disable_unauthed_rekey_endpoints = false.
	AllowUnauthedRekey bool
	// AllowUnauthedGenerateRoot is
	// disable_unauthed_generate_root_endpoints = false.
	AllowUnauthedGenerateRoot bool
	// UnauthenticatedMetrics is telemetry { unauthenticated_metrics_access
	// = true }: sys/metrics without a token.
	UnauthenticatedMetrics bool
}

// listenerLimit parses key into l when it is a limit key, and reports
// whether it was one.
func (p *parser) listenerLimit(l *ListenerLimits, item *ast.ObjectItem, label, key string) bool {
	switch key {
	case "max_request_size":
		l.MaxRequestSize = int64(p.positive(item, label))
	case "max_request_duration":
		l.MaxRequestDuration = p.duration(item, label)
	case "max_concurrent_requests":
		l.MaxConcurrentRequests = p.positive(item, label)
	case "max_json_depth":
		l.MaxJSONDepth = p.positive(item, label)
	case "max_json_string_value_length":
		l.MaxJSONStringLength = p.positive(item, label)
	case "max_json_object_entry_count":
		l.MaxJSONObjectEntries = p.positive(item, label)
	case "max_json_array_element_count":
		l.MaxJSONArrayElements = p.positive(item, label)
	case "max_json_total_elements":
		l.MaxJSONElements = p.positive(item, label)
	case "disable_unauthed_rekey_endpoints":
		l.AllowUnauthedRekey = !p.boolean(item, label)
	case "disable_unauthed_generate_root_endpoints":
		l.AllowUnauthedGenerateRoot = !p.boolean(item, label)
	case "telemetry":
		p.listenerTelemetry(l, item, label)
	default:
		return false
	}
	return true
}

// positive reads a whole number above zero (a number or a string of one).
func (p *parser) positive(item *ast.ObjectItem, key string) int {
	tok, ok := p.literal(item, key)
	if !ok {
		return 0
	}
	s := tok.Text
	if v, ok := tok.Value().(string); ok && tok.Type == token.STRING {
		s = v
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		p.errorf(item.Keys[0].Pos(), key, "must be a whole number above zero")
		return 0
	}
	return n
}

// duration reads a Go duration ("90s", "2m") or a number of seconds.
func (p *parser) duration(item *ast.ObjectItem, key string) time.Duration {
	tok, ok := p.literal(item, key)
	if !ok {
		return 0
	}
	s := tok.Text
	if v, ok := tok.Value().(string); ok && tok.Type == token.STRING {
		s = v
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		p.errorf(item.Keys[0].Pos(), key, "must be a duration above zero, such as 90s")
		return 0
	}
	return d
}

// listenerTelemetry parses a listener's telemetry block.
func (p *parser) listenerTelemetry(l *ListenerLimits, item *ast.ObjectItem, label string) {
	obj, ok := item.Val.(*ast.ObjectType)
	if !ok {
		p.errorf(item.Keys[0].Pos(), label, "must be a block")
		return
	}
	for _, it := range obj.List.Items {
		switch k := keyName(it.Keys[0]); k {
		case "unauthenticated_metrics_access":
			l.UnauthenticatedMetrics = p.boolean(it, label+": "+k)
		default:
			p.errorf(it.Keys[0].Pos(), label, "unknown key %q", k)
		}
	}
}
