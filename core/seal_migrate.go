package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/arca-secrets/arca/core/sealconf"
	"github.com/arca-secrets/arca/core/sealmigrate"
)

// Seal migration (core/sealmigrate computes it): while storage is still
// the disabled seal's (Config.MigrateFrom), only UnsealMigrate unseals.
// The new configuration is stored in one Put: a crash before it leaves
// the old one whole.

var (
	// ErrMigrationRequired: in seal migration mode, only UnsealMigrate unseals (400).
	ErrMigrationRequired = errors.New("the server is in seal migration mode (a disabled seal is configured and storage is still wrapped by it): unseal with -migrate (migrate=true) to migrate, or remove the new seal block and the disabled flag to go back")
	// ErrNotMigrating: migrate asked of a server not in migration mode (400).
	ErrNotMigrating = errors.New("no seal migration to do: the config has no disabled seal, or storage is already wrapped by the configured seal")
)

// migrating reports whether storage is still wrapped by the disabled seal.
func (c *Core) migrating(conf *sealconf.Config) bool {
	return c.oldSeal != nil && conf != nil && conf.Type == c.oldSeal.Type()
}

func (c *Core) migration() *sealmigrate.Migration {
	return &sealmigrate.Migration{
		From: c.oldSeal, To: c.seal, Combine: combineKey,
		RecoveryKey: func(ctx context.Context, conf *sealconf.Config, shares [][]byte) ([]byte, error) {
			return c.recoveryKey(ctx, c.oldSeal, conf, shares)
		},
	}
}

// UnsealMigrate is Unseal in migration mode, with the old seal's unseal
// shares (recovery shares when it unseals by itself): at the threshold
// the seal is migrated and the server unsealed.
func (c *Core) UnsealMigrate(ctx context.Context, share []byte) (SealStatus, error) {
	return c.unsealShare(ctx, share, true)
}

// migrateSeal moves the root key from the old seal to the new one with
// the shares given, stores the new configuration in one Put, and unseals.
// It returns the configuration stored then, or conf with an error.
// c.stateLock must be held for writing.
func (c *Core) migrateSeal(ctx context.Context, conf *sealconf.Config, shares [][]byte) (*sealconf.Config, error) {
	nonce, err := randomID()
	if err != nil {
		return conf, err
	}
	next, rootKey, err := c.migration().Run(ctx, conf, shares, nonce)
	switch {
	case errors.Is(err, sealmigrate.ErrSharesRejected):
		return conf, ErrUnsealFailed
	case errors.Is(err, sealmigrate.ErrUnsupported):
		return conf, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	case err != nil:
		return conf, err
	}
	defer clear(rootKey)
	if err := sealconf.Write(ctx, c.physical, next); err != nil {
		return conf, fmt.Errorf("seal migration: %w (the old seal's configuration is unchanged)", err)
	}
	c.log.Info("seal migrated: remove the disabled seal block from the config before the next restart", "from", c.oldSeal.Type(), "to", c.seal.Type())
	return next, c.unsealWithRootKey(ctx, rootKey)
}
