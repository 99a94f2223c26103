package cluster

import (
	"encoding/base64"
	"testing"
)

func TestParseIndex(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		want   uint64
		ok     bool
	}{
		{name: "none", values: nil},
		{name: "one", values: []string{encodeIndex(42)}, want: 42, ok: true},
		{name: "highest of several headers", values: []string{encodeIndex(7), encodeIndex(90), encodeIndex(12)}, want: 90, ok: true},
		{name: "comma-joined", values: []string{encodeIndex(3) + ", " + encodeIndex(5)}, want: 5, ok: true},
		{name: "not base64", values: []string{"!!!"}},
		{name: "wrong version", values: []string{base64.StdEncoding.EncodeToString([]byte("v2:arca:5:0:00"))}},
		{name: "too few fields", values: []string{base64.StdEncoding.EncodeToString([]byte("v1:arca:5"))}},
		{name: "index not a number", values: []string{base64.StdEncoding.EncodeToString([]byte("v1:arca:x:0:00"))}},
		{name: "junk beside a good one", values: []string{"junk", encodeIndex(8)}, want: 8, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseIndex(tc.values)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("ParseIndex(%q) = %d, %v; want %d, %v", tc.values, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// FuzzIndexRoundTrip: every index survives encoding, and no input makes
// ParseIndex panic.
func FuzzIndexRoundTrip(f *testing.F) {
	f.Add(uint64(0), "")
	f.Add(uint64(1<<63), "djE6YXJjYTo1OjA6MDA=")
	f.Fuzz(func(t *testing.T, i uint64, raw string) {
		if got, ok := ParseIndex([]string{encodeIndex(i)}); !ok || got != i {
			t.Fatalf("round trip of %d gave %d, %v", i, got, ok)
		}
		_, _ = ParseIndex([]string{raw})
	})
}

func TestHostPort(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://10.0.0.1:8201", "10.0.0.1:8201"},
		{"10.0.0.1:8201", "10.0.0.1:8201"},
		{"https://node-1.example:8201", "node-1.example:8201"},
	} {
		if got, err := hostPort(tc.in); err != nil || got != tc.want {
			t.Errorf("hostPort(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "https://", "no-port", "http://x"} {
		if _, err := hostPort(bad); err == nil {
			t.Errorf("hostPort(%q) accepted", bad)
		}
	}
}

func TestServerIDPattern(t *testing.T) {
	for id, want := range map[string]bool{
		"node-1": true, "n.2_x": true, "": false, "../x": false, "a/b": false, "-x": false,
		"a" + string(make([]byte, 64)): false,
	} {
		if got := serverIDPattern.MatchString(id); got != want {
			t.Errorf("server id %q: %v, want %v", id, got, want)
		}
	}
}
