package core

import "context"

// CheckSeal returns a *SealMismatchError when storage holds a root key
// that another seal than the configured one wrapped, and nil when they
// agree or the server is not initialised. The server calls it at start so
// that a wrong seal block stops it with a clear message instead of leaving
// a server no share can unseal.
func (c *Core) CheckSeal(ctx context.Context) error {
	conf, err := c.readSealConfig(ctx)
	if err != nil || conf == nil {
		return err
	}
	return c.matchSeal(conf)
}
