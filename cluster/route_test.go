package cluster

import (
	"testing"
)

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
