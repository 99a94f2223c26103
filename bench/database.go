package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
)

// databaseCreds asks the database engine for a fresh PostgreSQL user per
// operation (CREATE ROLE under a lease); cleanup revokes them all.
type databaseCreds struct {
	url   string
	mount string
}

func (w *databaseCreds) setup(ctx context.Context, c *client, prefix string) error {
	u, err := url.Parse(w.url)
	if err != nil || u.User == nil {
		return fmt.Errorf("bench: -postgres-url must be postgres://user:password@host:port/db")
	}
	user := u.User.Username()
	pass, _ := u.User.Password()
	u.User = nil
	// The server gets the credentials as fields, the URL as a template,
	// as Vault's documentation writes it.
	conn := "postgres://{{username}}:{{password}}@" + u.Host + u.EscapedPath()
	if u.RawQuery != "" {
		conn += "?" + u.RawQuery
	}
	w.mount = prefix + "-db"
	if err := mount(ctx, c, w.mount, "database", nil); err != nil {
		return err
	}
	if err := c.do(ctx, http.MethodPost, w.mount+"/config/bench", "", map[string]any{
		"plugin_name": "postgresql-database-plugin", "connection_url": conn, "username": user, "password": pass,
		"allowed_roles": "bench", "max_open_connections": 16,
	}, nil); err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, w.mount+"/roles/bench", "", map[string]any{
		"db_name":             "bench",
		"creation_statements": `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'`,
		"default_ttl":         "1h",
	}, nil)
}

func (w *databaseCreds) op(ctx context.Context, c *client, _ *rand.Rand) error {
	return c.do(ctx, http.MethodGet, w.mount+"/creds/bench", "", nil, nil)
}

// cleanup drops every user the run created (disabling the mount revokes
// its leases, which drops the users).
func (w *databaseCreds) cleanup(ctx context.Context, c *client, _ string) {
	_ = c.do(ctx, http.MethodPut, "sys/leases/revoke-prefix/"+w.mount+"/creds", "", nil, nil)
	_ = c.do(ctx, http.MethodDelete, "sys/mounts/"+w.mount, "", nil, nil)
}
