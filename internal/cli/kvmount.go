package cli

import (
	"fmt"
	"path"
	"strings"

	"github.com/openbao/openbao/api/v2"
)

// kvTarget is a KV path resolved against its mount, as Vault's CLI does by
// asking sys/internal/ui/mounts first.
type kvTarget struct {
	mount   string // "secret/"
	rel     string // "app/db"
	version int    // 1 or 2
}

// apiPath returns the path for a v2 sub-API ("data", "metadata", ...), or
// the plain path for v1.
func (t kvTarget) apiPath(sub string) string {
	if t.version == 1 {
		return t.mount + t.rel
	}
	return t.mount + sub + "/" + t.rel
}

// resolveKV finds the mount and KV version for p (or mount + p with -mount).
func resolveKV(c *api.Client, mount, p string) (kvTarget, error) {
	full := strings.TrimPrefix(p, "/")
	if mount != "" {
		full = strings.Trim(mount, "/") + "/" + full
	}
	s, err := c.Logical().Read("sys/internal/ui/mounts/" + full)
	if err != nil {
		return kvTarget{}, fmt.Errorf("preflight capability check returned an error: %w", err)
	}
	if s == nil || s.Data == nil {
		return kvTarget{}, fmt.Errorf("no mount serves %q", full)
	}
	mp, _ := s.Data["path"].(string)
	typ, _ := s.Data["type"].(string)
	if typ != "kv" {
		return kvTarget{}, fmt.Errorf("%q is served by a %s engine, not kv", full, typ)
	}
	version := 1
	if opts, ok := s.Data["options"].(map[string]any); ok && opts["version"] == "2" {
		version = 2
	}
	rel := strings.TrimPrefix(full, mp)
	if strings.HasSuffix(full, "/") && rel != "" && !strings.HasSuffix(rel, "/") {
		rel += "/"
	}
	return kvTarget{mount: mp, rel: path.Clean("/" + rel)[1:] + trailingSlash(rel), version: version}, nil
}

func trailingSlash(s string) string {
	if strings.HasSuffix(s, "/") && s != "/" {
		return "/"
	}
	return ""
}
