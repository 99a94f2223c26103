package tokenfields

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/arca-secrets/arca/logical"
)

func decode(t *testing.T, body string) map[string]any {
	t.Helper()
	out := map[string]any{}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("bad test JSON: %v", err)
	}
	return out
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Fields
	}{
		{"token names", `{"token_policies":"B,a, a","token_ttl":"1h","token_max_ttl":7200,"token_period":"30",
			"token_num_uses":2,"token_bound_cidrs":["10.0.0.1","10.0.0.0/8"],"token_no_default_policy":true,"token_type":"service"}`,
			Fields{Policies: []string{"a", "b"}, TTL: 3600, MaxTTL: 7200, Period: 30, NumUses: 2,
				BoundCIDRs: []string{"10.0.0.1/32", "10.0.0.0/8"}, NoDefaultPolicy: true, Type: "service"}},
		{"legacy names", `{"policies":["x"],"ttl":"1m","max_ttl":"2m","period":"3m","bound_cidrs":"::1"}`,
			Fields{Policies: []string{"x"}, TTL: 60, MaxTTL: 120, Period: 180, BoundCIDRs: []string{"::1/128"}}},
		{"token name wins", `{"policies":["old"],"token_policies":["new"]}`, Fields{Policies: []string{"new"}}},
		{"default type", `{"token_type":"default"}`, Fields{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f Fields
			if err := f.Parse(decode(t, tc.body)); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if d := cmp.Diff(tc.want, f); d != "" {
				t.Fatalf("fields (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseBadInput(t *testing.T) {
	for _, body := range []string{
		`{"token_ttl":"soon"}`, `{"token_ttl":-1}`, `{"token_ttl":10,"token_max_ttl":5}`,
		`{"token_type":"gold"}`, `{"token_bound_cidrs":"10.0.0.0/40"}`, `{"token_num_uses":-2}`,
		`{"token_policies":[true]}`, `{"token_no_default_policy":"perhaps"}`,
		`{"token_type":"batch","token_period":60}`,
	} {
		t.Run(body, func(t *testing.T) {
			var f Fields
			if err := f.Parse(decode(t, body)); !errors.Is(err, logical.ErrInvalidRequest) {
				t.Fatalf("got %v, want ErrInvalidRequest", err)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	f := Fields{Policies: []string{"a"}, TTL: 60, MaxTTL: 120, Period: 30, NumUses: 1,
		BoundCIDRs: []string{"10.0.0.0/8"}, Type: "default-batch"}
	want := &logical.Auth{Policies: []string{"a"}, TTL: time.Minute, MaxTTL: 2 * time.Minute,
		Period: 30 * time.Second, NumUses: 1, BoundCIDRs: []string{"10.0.0.0/8"}, TokenType: "batch"}
	if d := cmp.Diff(want, f.Auth()); d != "" {
		t.Fatalf("auth (-want +got):\n%s", d)
	}
	f.Type = ""
	if a := f.Auth(); !a.Renewable || a.TokenType != "" {
		t.Fatalf("got renewable %v type %q, want renewable default", a.Renewable, a.TokenType)
	}
}

func TestAddrAllowedAndSubset(t *testing.T) {
	tests := []struct {
		name  string
		cidrs []string
		addr  string
		want  bool
	}{
		{"empty list allows all", nil, "1.2.3.4", true},
		{"inside", []string{"10.0.0.0/8"}, "10.9.9.9", true},
		{"outside", []string{"10.0.0.0/8"}, "11.0.0.1", false},
		{"mapped v4", []string{"10.0.0.0/8"}, "::ffff:10.0.0.1", true},
		{"garbage address", []string{"10.0.0.0/8"}, "not-an-ip", false},
		{"empty address", []string{"10.0.0.0/8"}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := AddrAllowed(tc.cidrs, tc.addr); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	if !Subset([]string{"10.1.0.0/16", "10.2.3.4/32"}, []string{"10.0.0.0/8"}) {
		t.Fatalf("got not subset, want subset")
	}
	if Subset([]string{"10.0.0.0/7"}, []string{"10.0.0.0/8"}) {
		t.Fatalf("got a wider block as subset, want not")
	}
	if !Subset([]string{"1.2.3.4/32"}, nil) {
		t.Fatalf("got not subset of the empty (unlimited) list, want subset")
	}
}

func TestUnknownWarning(t *testing.T) {
	if w := UnknownWarning(map[string]any{"token_ttl": 1}, Keys); w != nil {
		t.Fatalf("got warning %v for known fields, want none", w)
	}
	w := UnknownWarning(map[string]any{"zz": 1, "aa": 2, "token_ttl": 3}, Keys)
	if len(w) != 1 || !strings.Contains(w[0], "[aa zz]") {
		t.Fatalf("got %v, want one warning naming aa and zz", w)
	}
}
