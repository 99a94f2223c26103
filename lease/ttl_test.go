package lease

import (
	"testing"
	"time"
)

func TestTTLs(t *testing.T) {
	const h, sys = time.Hour, 768 * time.Hour
	for _, tc := range []struct {
		name                         string
		ttl, max, mountDef, mountMax time.Duration
		wantTTL, wantMax             time.Duration
	}{
		{"engine's own", 1 * h, 2 * h, 0, 0, 1 * h, 2 * h},
		{"mount default", 0, 0, 3 * h, 0, 3 * h, sys},
		{"system default", 0, 0, 0, 0, sys, sys},
		{"capped by the mount", 5 * h, 10 * h, 0, 4 * h, 4 * h, 4 * h},
		{"ttl past its own max", 3 * h, 2 * h, 0, 0, 2 * h, 2 * h},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ttl, max := TTLs(tc.ttl, tc.max, tc.mountDef, tc.mountMax, sys)
			if ttl != tc.wantTTL || max != tc.wantMax {
				t.Fatalf("got %s, %s; want %s, %s", ttl, max, tc.wantTTL, tc.wantMax)
			}
		})
	}
}
