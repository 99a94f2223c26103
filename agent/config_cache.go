package agent

import "time"

// maxStaleLimit bounds max_stale: a secret rotated or revoked at the
// server stops being served within kv_ttl plus max_stale, even while the
// server cannot be reached.
const maxStaleLimit = 24 * time.Hour

// cache reads the cache block:
//
//	cache {
//	  kv_ttl    = "5s"   # static reads served from memory (default: none)
//	  max_stale = "10m"  # and past kv_ttl while the server is down (default: 0)
//	}
func (p *parser) cache(c *Config, root map[string]any) {
	blocks := p.blocks(root, "cache")
	if len(blocks) > 1 {
		p.errf("only one cache block is allowed")
	}
	for _, cc := range blocks {
		p.only("cache", cc, "kv_ttl", "max_stale")
		if s := p.str(cc, "kv_ttl"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d < 0 || d > time.Hour {
				p.errf("cache.kv_ttl must be a duration up to 1h, such as \"5s\"")
			}
			c.KVCacheTTL = d
		}
		if s := p.str(cc, "max_stale"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d < 0 || d > maxStaleLimit {
				p.errf("cache.max_stale must be a duration up to 24h, such as \"10m\"")
			}
			c.MaxStale = d
		}
	}
	if c.MaxStale > 0 && c.KVCacheTTL == 0 {
		p.errf("cache.max_stale needs cache.kv_ttl: only cached reads can be served while the server is unreachable")
	}
}
