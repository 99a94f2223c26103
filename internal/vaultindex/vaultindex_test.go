package vaultindex

import (
	"encoding/base64"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		want   uint64
		ok     bool
	}{
		{name: "none", values: nil},
		{name: "one", values: []string{Encode(42)}, want: 42, ok: true},
		{name: "highest of several headers", values: []string{Encode(7), Encode(90), Encode(12)}, want: 90, ok: true},
		{name: "comma-joined", values: []string{Encode(3) + ", " + Encode(5)}, want: 5, ok: true},
		{name: "not base64", values: []string{"!!!"}},
		{name: "wrong version", values: []string{base64.StdEncoding.EncodeToString([]byte("v2:arca:5:0:00"))}},
		{name: "too few fields", values: []string{base64.StdEncoding.EncodeToString([]byte("v1:arca:5"))}},
		{name: "index not a number", values: []string{base64.StdEncoding.EncodeToString([]byte("v1:arca:x:0:00"))}},
		{name: "junk beside a good one", values: []string{"junk", Encode(8)}, want: 8, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Parse(tc.values)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("Parse(%q) = %d, %v; want %d, %v", tc.values, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// FuzzIndexRoundTrip: every index survives encoding, and no input makes
// Parse panic.
func FuzzIndexRoundTrip(f *testing.F) {
	f.Add(uint64(0), "")
	f.Add(uint64(1<<63), "djE6YXJjYTo1OjA6MDA=")
	f.Fuzz(func(t *testing.T, i uint64, raw string) {
		if got, ok := Parse([]string{Encode(i)}); !ok || got != i {
			t.Fatalf("round trip of %d gave %d, %v", i, got, ok)
		}
		_, _ = Parse([]string{raw})
	})
}
