package glob

import "testing"

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"/system.slice/*.service", "/system.slice/app.service", true},
		{"/kubepods/*", "/kubepods/burstable/pod1/abc", true},
		{"/kubepods/*/abc", "/kubepods/burstable/pod1/abc", true},
		{"/kubepods/*/abc", "/kubepods/burstable/pod1/abd", false},
		{"*.example.com", "db.eu.example.com", true},
		{"*.example.com", "example.com", false},
		{"app", "app", true}, {"app", "app2", false}, {"*", "", true},
		{"a*b*c", "abc", true}, {"a*b*c", "acb", false}, {"ab*ba", "aba", false},
	} {
		if got := Match(c.p, c.s); got != c.want {
			t.Errorf("Match(%q, %q) = %v", c.p, c.s, got)
		}
	}
}
