package database

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

const (
	configPrefix = "config/"
	// pluginName is the one database Arca speaks; Vault's name for it.
	pluginName = "postgresql-database-plugin"
)

// connConfig is a stored connection.
type connConfig struct {
	PluginName            string        `json:"plugin_name"`
	ConnectionURL         string        `json:"connection_url"`
	Username              string        `json:"username"`
	Password              string        `json:"password"`
	AllowedRoles          []string      `json:"allowed_roles"`
	MaxOpenConnections    int           `json:"max_open_connections"`
	MaxIdleConnections    int           `json:"max_idle_connections"`
	MaxConnectionLifetime time.Duration `json:"max_connection_lifetime"`
	VerifyConnection      bool          `json:"verify_connection"`
	UsernameTemplate      string        `json:"username_template,omitempty"`
	// PasswordPolicy names a sys/policies/password policy for generated
	// passwords ("": Arca's default).
	PasswordPolicy string   `json:"password_policy,omitempty"`
	RootRotation   []string `json:"root_rotation_statements,omitempty"`
	// PendingPassword is the admin password a rotate-root is setting:
	// written before the database changes, so a crash in between leaves
	// both candidates known.
	PendingPassword string `json:"pending_password,omitempty"`
}

func (c *connConfig) allows(role string) bool {
	return slices.Contains(c.AllowedRoles, "*") || slices.Contains(c.AllowedRoles, role)
}

func getConfig(ctx context.Context, st storage.Backend, name string) (*connConfig, error) {
	e, err := st.Get(ctx, configPrefix+name)
	if err != nil || e == nil {
		return nil, err
	}
	var c connConfig
	if err := json.Unmarshal(e.Value, &c); err != nil {
		return nil, fmt.Errorf("decoding connection %q: %w", name, err)
	}
	return &c, nil
}

func putConfig(ctx context.Context, st storage.Backend, name string, c *connConfig) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return st.Put(ctx, &storage.Entry{Key: configPrefix + name, Value: raw})
}

// mustConfig is the named connection or a clear error.
func mustConfig(ctx context.Context, st storage.Backend, name string) (*connConfig, error) {
	c, err := getConfig(ctx, st, name)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "no database connection named %q", name)
	}
	return c, nil
}

func (e *Engine) readConfig(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	c, err := getConfig(ctx, req.Storage, name)
	if err != nil || c == nil {
		return nil, err
	}
	details := map[string]any{
		"connection_url":          c.ConnectionURL,
		"username":                c.Username,
		"max_open_connections":    c.MaxOpenConnections,
		"max_idle_connections":    c.MaxIdleConnections,
		"max_connection_lifetime": c.MaxConnectionLifetime.String(),
	}
	if c.UsernameTemplate != "" {
		details["username_template"] = c.UsernameTemplate
	}
	return &logical.Response{Data: map[string]any{
		"plugin_name":                        c.PluginName,
		"plugin_version":                     "",
		"connection_details":                 details,
		"allowed_roles":                      logical.NonNil(c.AllowedRoles),
		"root_credentials_rotate_statements": logical.NonNil(c.RootRotation),
		"password_policy":                    c.PasswordPolicy,
		"verify_connection":                  c.VerifyConnection,
	}}, nil
}

// writeConfig creates or updates a connection; fields not given keep
// their value on update. With verify_connection (the default) the
// connection is tried first and a failure stores nothing.
func (e *Engine) writeConfig(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	old, err := getConfig(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	c := &connConfig{MaxOpenConnections: 4, VerifyConnection: true}
	if old != nil {
		c = old
		c.PendingPassword = ""
	}
	if err := applyConfigFields(c, req.Data, old == nil); err != nil {
		return nil, err
	}
	if c.VerifyConnection {
		if err := verifyConnection(ctx, name, c); err != nil {
			return nil, err
		}
	}
	if err := putConfig(ctx, req.Storage, name, c); err != nil {
		return nil, err
	}
	e.pools.drop(name)
	return nil, nil
}

func applyConfigFields(c *connConfig, d map[string]any, create bool) error {
	if v, ok := d["plugin_name"]; ok || create {
		s, _ := v.(string)
		if s != pluginName {
			return logical.Errorf(logical.ErrInvalidRequest, "plugin_name must be %q (the only database Arca supports)", pluginName)
		}
		c.PluginName = s
	}
	var err error
	for key, dst := range map[string]*string{"connection_url": &c.ConnectionURL, "username": &c.Username, "password": &c.Password, "username_template": &c.UsernameTemplate, "password_policy": &c.PasswordPolicy} {
		if _, ok := d[key]; ok {
			if *dst, err = logical.StringParam(d, key); err != nil {
				return err
			}
		}
	}
	if c.ConnectionURL == "" {
		return logical.Errorf(logical.ErrInvalidRequest, "connection_url is required")
	}
	if err := checkConnectionURL(c.ConnectionURL); err != nil {
		return err
	}
	if c.UsernameTemplate != "" {
		// Only checked here: nothing is rendered, so no time is read.
		if _, err := parseUsernameTemplate(c.UsernameTemplate, time.Time{}); err != nil {
			return err
		}
	}
	if _, ok := d["allowed_roles"]; ok {
		if c.AllowedRoles, err = logical.StringListParam(d, "allowed_roles"); err != nil {
			return err
		}
	}
	if _, ok := d["root_rotation_statements"]; ok {
		if c.RootRotation, err = statementsParam(d, "root_rotation_statements"); err != nil {
			return err
		}
	}
	for key, dst := range map[string]*int{"max_open_connections": &c.MaxOpenConnections, "max_idle_connections": &c.MaxIdleConnections} {
		if n, ok, err := logical.IntParam(d, key); err != nil {
			return err
		} else if ok {
			*dst = n
		}
	}
	if c.MaxOpenConnections == 0 {
		c.MaxOpenConnections = 4
	}
	if c.MaxOpenConnections > 1000 {
		return logical.Errorf(logical.ErrInvalidRequest, "max_open_connections must be at most 1000")
	}
	if dur, ok, err := logical.DurationParam(d, "max_connection_lifetime"); err != nil {
		return err
	} else if ok {
		c.MaxConnectionLifetime = dur
	}
	if v, ok, err := logical.BoolParam(d, "verify_connection"); err != nil {
		return err
	} else if ok {
		c.VerifyConnection = v
	}
	return nil
}

func (e *Engine) deleteConfig(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	if err := req.Storage.Delete(ctx, configPrefix+name); err != nil {
		return nil, err
	}
	e.pools.drop(name)
	return nil, nil
}

// resetConnection closes the connection's pool; the next use reopens it
// from the stored configuration.
func (e *Engine) resetConnection(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	if _, err := mustConfig(ctx, req.Storage, name); err != nil {
		return nil, err
	}
	e.pools.drop(name)
	return nil, nil
}
