package core

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/arca-secrets/arca/audit"
	"github.com/arca-secrets/arca/storage"
)

const (
	auditSaltPrefix = "sys/audit-salt/"
	auditTablePath  = "sys/audit-table"
)

// ErrAudit: the request could not be recorded, so it was refused (500).
var ErrAudit = errors.New("the request could not be recorded by any audit device and was refused")

// AuditDevice describes an audit device, from the config file or the API.
type AuditDevice struct {
	Name        string            `json:"name"`
	Type        string            `json:"type"`
	Description string            `json:"description"`
	Options     map[string]string `json:"options"`
	// FromConfig devices are declared in the config file and cannot be
	// disabled through the API.
	FromConfig bool `json:"-"`
}

// AuditPolicy says what sys/audit may enable: anything in dev mode, else
// only file devices under FileDirs (empty: nothing).
type AuditPolicy struct {
	Dev      bool
	FileDirs []string
}

func (c *Core) auditSalt(ctx context.Context, name string) (*audit.Salt, error) {
	key := auditSaltPrefix + name
	e, err := c.barrier.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	if e != nil {
		return audit.NewSalt(e.Value), nil
	}
	s := make([]byte, 32)
	if _, err := rand.Read(s); err != nil {
		return nil, err
	}
	if err := c.barrier.Put(ctx, &storage.Entry{Key: key, Value: s}); err != nil {
		return nil, err
	}
	return audit.NewSalt(s), nil
}

// enableAudit opens a device and adds it to the broker.
func (c *Core) enableAudit(ctx context.Context, d AuditDevice) error {
	opts, err := audit.ParseOptions(d.Options)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	salt, err := c.auditSalt(ctx, d.Name)
	if err != nil {
		return err
	}
	dev, err := audit.Open(d.Type, d.Options)
	if errors.Is(err, audit.ErrBadDevice) {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	if err != nil {
		return fmt.Errorf("audit device %q: %w", d.Name, err)
	}
	if err := c.audit.Enable(d.Name, dev, salt, opts); err != nil {
		dev.Close()
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	return nil
}

func (c *Core) readAuditTable(ctx context.Context) ([]AuditDevice, error) {
	e, err := c.barrier.Get(ctx, auditTablePath)
	if err != nil || e == nil {
		return nil, err
	}
	var t []AuditDevice
	return t, json.Unmarshal(e.Value, &t)
}

func (c *Core) writeAuditTable(ctx context.Context, t []AuditDevice) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return c.barrier.Put(ctx, &storage.Entry{Key: auditTablePath, Value: b})
}

// startAudit enables the configured and API-enabled devices at unseal. A
// device that cannot be opened stops the unseal: serving unrecorded is
// worse than not serving.
func (c *Core) startAudit(ctx context.Context) error {
	table, err := c.readAuditTable(ctx)
	if err != nil {
		return fmt.Errorf("reading audit table: %w", err)
	}
	for _, d := range append(slices.Clone(c.auditConfig), table...) {
		if err := c.enableAudit(ctx, d); err != nil {
			c.audit.Close()
			return fmt.Errorf("enabling audit device %q: %w", d.Name, err)
		}
	}
	return nil
}

// AuditDevices lists the enabled devices.
func (c *Core) AuditDevices(ctx context.Context) ([]AuditDevice, error) {
	if err := c.requireUnsealed(); err != nil {
		return nil, err
	}
	table, err := c.readAuditTable(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]AuditDevice, 0, len(c.auditConfig)+len(table))
	for _, d := range c.auditConfig {
		d.FromConfig = true
		out = append(out, d)
	}
	return append(out, table...), nil
}

// EnableAuditAPI enables a device through sys/audit, within the limits of
// the server's AuditPolicy.
func (c *Core) EnableAuditAPI(ctx context.Context, d AuditDevice) error {
	if err := c.requireUnsealed(); err != nil {
		return err
	}
	d.Name = strings.Trim(d.Name, "/")
	if d.Name == "" || strings.ContainsAny(d.Name, "/ ") {
		return fmt.Errorf("%w: an audit device path is one segment, such as file", ErrInvalidRequest)
	}
	if err := c.auditAPIAllows(d); err != nil {
		return err
	}
	c.auditMu.Lock()
	defer c.auditMu.Unlock()
	table, err := c.readAuditTable(ctx)
	if err != nil {
		return err
	}
	if err := c.enableAudit(ctx, d); err != nil {
		return err
	}
	if err := c.writeAuditTable(ctx, append(table, d)); err != nil {
		_ = c.audit.Disable(d.Name)
		return err
	}
	c.log.Info("audit device enabled", "name", d.Name, "type", d.Type)
	return nil
}

// auditAPIAllows refuses what the API may not enable (audit.CheckAPIDevice).
func (c *Core) auditAPIAllows(d AuditDevice) error {
	if c.auditPolicy.Dev {
		return nil
	}
	err := audit.CheckAPIDevice(d.Type, d.Options, c.auditPolicy.FileDirs)
	switch {
	case errors.Is(err, audit.ErrAPIRefused):
		return fmt.Errorf("%w: %w", ErrPermissionDenied, err)
	case err != nil:
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	return nil
}

// DisableAuditAPI removes an API-enabled device.
func (c *Core) DisableAuditAPI(ctx context.Context, name string) error {
	if err := c.requireUnsealed(); err != nil {
		return err
	}
	name = strings.Trim(name, "/")
	for _, d := range c.auditConfig {
		if d.Name == name {
			return fmt.Errorf("%w: audit device %q is declared in the config file; remove it there", ErrInvalidRequest, name)
		}
	}
	c.auditMu.Lock()
	defer c.auditMu.Unlock()
	table, err := c.readAuditTable(ctx)
	if err != nil {
		return err
	}
	table = slices.DeleteFunc(table, func(d AuditDevice) bool { return d.Name == name })
	if err := c.writeAuditTable(ctx, table); err != nil {
		return err
	}
	return c.audit.Disable(name)
}

// AuditHash returns what device name writes for input.
func (c *Core) AuditHash(name, input string) (string, error) {
	if err := c.requireUnsealed(); err != nil {
		return "", err
	}
	h, err := c.audit.Hash(strings.Trim(name, "/"), input)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	return h, nil
}

// ReopenAudit reopens the devices (on SIGHUP, after log rotation).
func (c *Core) ReopenAudit() error { return c.audit.Reopen() }
