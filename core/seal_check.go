package core

import (
	"context"
	"fmt"

	"github.com/arca-secrets/arca/core/sealconf"
)

// CheckSeal returns a *SealMismatchError when storage holds a root key
// that another seal than the configured one wrapped, and nil when they
// agree or the server is not initialised. In seal migration mode, storage
// may be the disabled seal's too. The server calls it at start so
// that a wrong seal block stops it with a clear message instead of leaving
// a server no share can unseal.
func (c *Core) CheckSeal(ctx context.Context) error {
	conf, err := sealconf.Read(ctx, c.physical)
	if c.oldSeal != nil && c.oldSeal.Type() == c.seal.Type() {
		return fmt.Errorf("seal migration from the %q seal to the %q seal: both seals are of the same type, which is not supported", c.oldSeal.Type(), c.seal.Type())
	}
	if err != nil || conf == nil || c.migrating(conf) {
		return err
	}
	return c.matchSeal(conf)
}
