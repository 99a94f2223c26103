package core

import (
	"context"
	"errors"

	"github.com/arca-secrets/arca/core/audittable"
)

// ErrAudit: the request could not be recorded, so it was refused (500).
var ErrAudit = errors.New("the request could not be recorded by any audit device and was refused")

// AuditDevice describes an audit device, from the config file or the API.
type AuditDevice = audittable.Device

// AuditPolicy says what sys/audit may enable: anything in dev mode, else
// only file devices under FileDirs (empty: nothing).
type AuditPolicy = audittable.Policy

// AuditDevices lists the enabled devices.
func (c *Core) AuditDevices(ctx context.Context) ([]AuditDevice, error) {
	if err := c.requireUnsealed(); err != nil {
		return nil, err
	}
	return c.auditTable.List(ctx)
}

// EnableAuditAPI enables a device through sys/audit, within the limits of
// the server's AuditPolicy.
func (c *Core) EnableAuditAPI(ctx context.Context, d AuditDevice) error {
	if err := c.requireUnsealed(); err != nil {
		return err
	}
	return c.auditTable.Enable(ctx, d)
}

// DisableAuditAPI removes an API-enabled device.
func (c *Core) DisableAuditAPI(ctx context.Context, name string) error {
	if err := c.requireUnsealed(); err != nil {
		return err
	}
	return c.auditTable.Disable(ctx, name)
}

// AuditHash returns what device name writes for input.
func (c *Core) AuditHash(name, input string) (string, error) {
	if err := c.requireUnsealed(); err != nil {
		return "", err
	}
	return c.auditTable.Hash(name, input)
}

// ReopenAudit reopens the devices (on SIGHUP, after log rotation).
func (c *Core) ReopenAudit() error { return c.audit.Reopen() }
