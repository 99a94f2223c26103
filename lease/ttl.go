package lease

import "time"

// TTLs resolves a secret's TTL and maximum: what the engine asked for,
// else the mount's default, else the system's; never past the mount's
// maximum (else the system's), and the TTL never past the maximum.
func TTLs(ttl, maxTTL, mountDefault, mountMax, system time.Duration) (time.Duration, time.Duration) {
	limit := mountMax
	if limit == 0 {
		limit = system
	}
	if ttl == 0 {
		ttl = mountDefault
	}
	if ttl == 0 {
		ttl = system
	}
	if maxTTL == 0 || maxTTL > limit {
		maxTTL = limit
	}
	return min(ttl, maxTTL), maxTTL
}
