// Package tokenfields holds the token settings that every Arca auth method
// shares with Vault's ("token_policies", "token_ttl", "token_bound_cidrs",
// ...): parsing them from a request, answering them on a read, and turning
// them into the logical.Auth a login returns. It also checks client
// addresses against CIDR lists, which the login paths need.
package tokenfields

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/arca-secrets/arca/logical"
)

// Fields are the token settings of a user or role. Durations are kept as
// whole seconds in storage, the unit Vault answers them in.
type Fields struct {
	Policies        []string `json:"token_policies,omitempty"`
	TTL             int64    `json:"token_ttl,omitempty"`
	MaxTTL          int64    `json:"token_max_ttl,omitempty"`
	Period          int64    `json:"token_period,omitempty"`
	NumUses         int      `json:"token_num_uses,omitempty"`
	BoundCIDRs      []string `json:"token_bound_cidrs,omitempty"`
	NoDefaultPolicy bool     `json:"token_no_default_policy,omitempty"`
	// Type is "default" (stored as ""), "service", "batch",
	// "default-service" or "default-batch".
	Type string `json:"token_type,omitempty"`
}

// Keys are the request fields Parse understands, including the legacy
// names Vault still accepts, so that callers can warn about the others.
var Keys = []string{
	"token_policies", "policies", "token_ttl", "ttl", "token_max_ttl", "max_ttl",
	"token_period", "period", "token_num_uses", "token_bound_cidrs", "bound_cidrs",
	"token_no_default_policy", "token_type",
}

// Parse updates f with the fields present in data; absent fields keep
// their value. A legacy name ("policies", "ttl", "max_ttl", "period",
// "bound_cidrs") is used only when its "token_" form is absent.
func (f *Fields) Parse(data map[string]any) error {
	if key := pick(data, "token_policies", "policies"); key != "" {
		p, err := logical.StringListParam(data, key)
		if err != nil {
			return err
		}
		f.Policies = NormalizePolicies(p)
	}
	for _, d := range []struct {
		names []string
		dst   *int64
	}{
		{[]string{"token_ttl", "ttl"}, &f.TTL},
		{[]string{"token_max_ttl", "max_ttl"}, &f.MaxTTL},
		{[]string{"token_period", "period"}, &f.Period},
	} {
		if key := pick(data, d.names...); key != "" {
			v, _, err := logical.DurationParam(data, key)
			if err != nil {
				return err
			}
			*d.dst = int64(v / time.Second)
		}
	}
	if n, ok, err := logical.IntParam(data, "token_num_uses"); err != nil {
		return err
	} else if ok {
		f.NumUses = n
	}
	if key := pick(data, "token_bound_cidrs", "bound_cidrs"); key != "" {
		c, err := CIDRListParam(data, key)
		if err != nil {
			return err
		}
		f.BoundCIDRs = c
	}
	if b, ok, err := logical.BoolParam(data, "token_no_default_policy"); err != nil {
		return err
	} else if ok {
		f.NoDefaultPolicy = b
	}
	if _, ok := data["token_type"]; ok {
		t, err := logical.StringParam(data, "token_type")
		if err != nil {
			return err
		}
		switch t = strings.ToLower(strings.TrimSpace(t)); t {
		case "", "default":
			f.Type = ""
		case "service", "batch", "default-service", "default-batch":
			f.Type = t
		default:
			return logical.Errorf(logical.ErrInvalidRequest, "token_type must be one of default, service, batch, default-service, default-batch")
		}
	}
	if f.MaxTTL > 0 && f.TTL > f.MaxTTL {
		return logical.Errorf(logical.ErrInvalidRequest, "token_ttl must not be greater than token_max_ttl")
	}
	if f.isBatch() && f.Period > 0 {
		return logical.Errorf(logical.ErrInvalidRequest, "batch tokens cannot be periodic")
	}
	return nil
}

// pick returns the first of names present (non-null) in data, or "".
func pick(data map[string]any, names ...string) string {
	for _, n := range names {
		if v, ok := data[n]; ok && v != nil {
			return n
		}
	}
	return ""
}

func (f *Fields) isBatch() bool { return f.Type == "batch" || f.Type == "default-batch" }

// Fill adds the token settings to a read response in Vault's shape,
// including the legacy "policies" and "period" that older clients read.
func (f *Fields) Fill(data map[string]any) {
	typ := f.Type
	if typ == "" {
		typ = "default"
	}
	data["token_policies"] = nonNil(f.Policies)
	data["policies"] = nonNil(f.Policies)
	data["token_ttl"] = f.TTL
	data["token_max_ttl"] = f.MaxTTL
	data["token_explicit_max_ttl"] = int64(0)
	data["token_period"] = f.Period
	data["period"] = f.Period
	data["token_num_uses"] = f.NumUses
	data["token_bound_cidrs"] = nonNil(f.BoundCIDRs)
	data["token_no_default_policy"] = f.NoDefaultPolicy
	data["token_type"] = typ
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

// Auth returns the login answer for these settings. Batch tokens cannot
// be renewed; every other token can.
func (f *Fields) Auth() *logical.Auth {
	typ := ""
	switch f.Type {
	case "service", "default-service":
		typ = "service"
	case "batch", "default-batch":
		typ = "batch"
	}
	return &logical.Auth{
		Policies:        slices.Clone(f.Policies),
		NoDefaultPolicy: f.NoDefaultPolicy,
		TTL:             time.Duration(f.TTL) * time.Second,
		MaxTTL:          time.Duration(f.MaxTTL) * time.Second,
		Period:          time.Duration(f.Period) * time.Second,
		NumUses:         f.NumUses,
		Renewable:       typ != "batch",
		BoundCIDRs:      slices.Clone(f.BoundCIDRs),
		TokenType:       typ,
	}
}

// NormalizePolicies trims, lowercases, drops empty names and duplicates,
// and sorts, so that stored lists compare equal however they were typed.
func NormalizePolicies(in []string) []string {
	out := make([]string, 0, len(in))
	for _, p := range in {
		if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// CIDRListParam reads a list of CIDR blocks (array or comma-separated); a
// bare address means that one address. Each is returned in canonical form.
func CIDRListParam(data map[string]any, key string) ([]string, error) {
	raw, err := logical.StringListParam(data, key)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(raw))
	for _, s := range raw {
		p, err := parsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "%s: %q is not a CIDR block or IP address", key, s)
		}
		out = append(out, p.String())
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// AddrAllowed reports whether addr falls in one of cidrs. An empty list
// allows every address; a missing or unparsable address is refused when
// the list is not empty.
func AddrAllowed(cidrs []string, addr string) bool {
	if len(cidrs) == 0 {
		return true
	}
	a, err := netip.ParseAddr(strings.TrimSpace(addr))
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, c := range cidrs {
		if p, err := parsePrefix(c); err == nil && p.Contains(a) {
			return true
		}
	}
	return false
}

// Subset reports whether every block of inner lies inside some block of
// outer. An empty outer list contains everything.
func Subset(inner, outer []string) bool {
	if len(outer) == 0 {
		return true
	}
	for _, in := range inner {
		ip, err := parsePrefix(in)
		if err != nil {
			return false
		}
		inside := false
		for _, out := range outer {
			op, err := parsePrefix(out)
			if err == nil && op.Bits() <= ip.Bits() && op.Contains(ip.Addr()) {
				inside = true
				break
			}
		}
		if !inside {
			return false
		}
	}
	return true
}

// UnknownWarning returns a warning naming the fields of data that are not
// in known, as Vault does (it ignores them rather than failing), or nil.
func UnknownWarning(data map[string]any, known ...[]string) []string {
	var unknown []string
	for k := range data {
		if !slices.ContainsFunc(known, func(ks []string) bool { return slices.Contains(ks, k) }) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	return []string{"Endpoint ignored these unrecognized parameters: [" + strings.Join(unknown, " ") + "]"}
}
