// Package audittable keeps the audit devices a server records to: those
// its config file declares and those enabled through sys/audit, which are
// stored in a table in the barrier, each device with a salt of its own for
// the hashes it writes. It opens them into the broker at unseal, keeps
// the table and the broker in step on changes (its own, or another
// node's: Reload), and refuses what the API may not enable. Its refusals
// wrap logical.ErrInvalidRequest or logical.ErrPermissionDenied.
package audittable

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/arca-secrets/arca/audit"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

// Where the table and the salts live inside the barrier.
const (
	saltPrefix = "sys/audit-salt/"
	// TablePath is the stored table (for invalidation).
	TablePath = "sys/audit-table"
)

// Device describes an audit device, from the config file or the API.
type Device struct {
	Name        string            `json:"name"`
	Type        string            `json:"type"`
	Description string            `json:"description"`
	Options     map[string]string `json:"options"`
	// FromConfig devices are declared in the config file and cannot be
	// disabled through the API.
	FromConfig bool `json:"-"`
}

// Policy says what sys/audit may enable: anything in dev mode, else only
// file devices under FileDirs (empty: nothing).
type Policy struct {
	Dev      bool
	FileDirs []string
}

// Table is the server's audit devices.
type Table struct {
	store  storage.Backend
	broker *audit.Broker
	config []Device
	policy Policy
	log    *slog.Logger
	// mu serialises changes to the stored table.
	mu sync.Mutex
}

// New returns the table over store (the barrier), opening devices into
// broker; config are the devices the config file declares.
func New(store storage.Backend, broker *audit.Broker, config []Device, policy Policy, log *slog.Logger) *Table {
	return &Table{store: store, broker: broker, config: config, policy: policy, log: log}
}

func (t *Table) salt(ctx context.Context, name string) (*audit.Salt, error) {
	key := saltPrefix + name
	e, err := t.store.Get(ctx, key)
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
	if err := t.store.Put(ctx, &storage.Entry{Key: key, Value: s}); err != nil {
		return nil, err
	}
	return audit.NewSalt(s), nil
}

// open opens a device and adds it to the broker.
func (t *Table) open(ctx context.Context, d Device) error {
	opts, err := audit.ParseOptions(d.Options)
	if err != nil {
		return fmt.Errorf("%w: %w", logical.ErrInvalidRequest, err)
	}
	salt, err := t.salt(ctx, d.Name)
	if err != nil {
		return err
	}
	dev, err := audit.Open(d.Type, d.Options)
	if errors.Is(err, audit.ErrBadDevice) {
		return fmt.Errorf("%w: %w", logical.ErrInvalidRequest, err)
	}
	if err != nil {
		return fmt.Errorf("audit device %q: %w", d.Name, err)
	}
	if err := t.broker.Enable(d.Name, dev, salt, opts); err != nil {
		dev.Close()
		return fmt.Errorf("%w: %w", logical.ErrInvalidRequest, err)
	}
	return nil
}

func (t *Table) read(ctx context.Context) ([]Device, error) {
	e, err := t.store.Get(ctx, TablePath)
	if err != nil || e == nil {
		return nil, err
	}
	var ds []Device
	return ds, json.Unmarshal(e.Value, &ds)
}

func (t *Table) write(ctx context.Context, ds []Device) error {
	b, err := json.Marshal(ds)
	if err != nil {
		return err
	}
	return t.store.Put(ctx, &storage.Entry{Key: TablePath, Value: b})
}

// Start opens the configured and API-enabled devices at unseal. A device
// that cannot be opened stops the unseal: serving unrecorded is worse than
// not serving.
func (t *Table) Start(ctx context.Context) error {
	stored, err := t.read(ctx)
	if err != nil {
		return fmt.Errorf("reading audit table: %w", err)
	}
	for _, d := range append(slices.Clone(t.config), stored...) {
		if err := t.open(ctx, d); err != nil {
			t.broker.Close()
			return fmt.Errorf("enabling audit device %q: %w", d.Name, err)
		}
	}
	return nil
}

// List returns the devices: the config file's, then the API's.
func (t *Table) List(ctx context.Context) ([]Device, error) {
	stored, err := t.read(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Device, 0, len(t.config)+len(stored))
	for _, d := range t.config {
		d.FromConfig = true
		out = append(out, d)
	}
	return append(out, stored...), nil
}

// Enable enables a device through the API, within the table's Policy.
func (t *Table) Enable(ctx context.Context, d Device) error {
	d.Name = strings.Trim(d.Name, "/")
	if d.Name == "" || strings.ContainsAny(d.Name, "/ ") {
		return fmt.Errorf("%w: an audit device path is one segment, such as file", logical.ErrInvalidRequest)
	}
	if err := t.allowed(d); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	stored, err := t.read(ctx)
	if err != nil {
		return err
	}
	if err := t.open(ctx, d); err != nil {
		return err
	}
	if err := t.write(ctx, append(stored, d)); err != nil {
		_ = t.broker.Disable(d.Name)
		return err
	}
	t.log.Info("audit device enabled", "name", d.Name, "type", d.Type)
	return nil
}

// allowed refuses what the API may not enable (audit.CheckAPIDevice).
func (t *Table) allowed(d Device) error {
	if t.policy.Dev {
		return nil
	}
	err := audit.CheckAPIDevice(d.Type, d.Options, t.policy.FileDirs)
	switch {
	case errors.Is(err, audit.ErrAPIRefused):
		return fmt.Errorf("%w: %w", logical.ErrPermissionDenied, err)
	case err != nil:
		return fmt.Errorf("%w: %w", logical.ErrInvalidRequest, err)
	}
	return nil
}

// Disable removes a device enabled through the API.
func (t *Table) Disable(ctx context.Context, name string) error {
	name = strings.Trim(name, "/")
	for _, d := range t.config {
		if d.Name == name {
			return fmt.Errorf("%w: audit device %q is declared in the config file; remove it there", logical.ErrInvalidRequest, name)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	stored, err := t.read(ctx)
	if err != nil {
		return err
	}
	stored = slices.DeleteFunc(stored, func(d Device) bool { return d.Name == name })
	if err := t.write(ctx, stored); err != nil {
		return err
	}
	return t.broker.Disable(name)
}

// Hash returns what device name writes for input.
func (t *Table) Hash(name, input string) (string, error) {
	h, err := t.broker.Hash(strings.Trim(name, "/"), input)
	if err != nil {
		return "", fmt.Errorf("%w: %w", logical.ErrInvalidRequest, err)
	}
	return h, nil
}

// Reload opens the devices the stored table names that are not open here,
// and closes those enabled through the API that it no longer names (after
// another node changed the table). The config file's devices stay.
func (t *Table) Reload(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	stored, err := t.read(ctx)
	if err != nil {
		return fmt.Errorf("reading audit table: %w", err)
	}
	enabled := t.broker.Names()
	want := map[string]bool{}
	for _, d := range t.config {
		want[d.Name] = true
	}
	for _, d := range stored {
		want[d.Name] = true
		if !slices.Contains(enabled, d.Name) {
			if err := t.open(ctx, d); err != nil {
				return err
			}
		}
	}
	for _, name := range enabled {
		if !want[name] {
			if err := t.broker.Disable(name); err != nil {
				return err
			}
		}
	}
	return nil
}
