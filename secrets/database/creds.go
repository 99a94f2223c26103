package database

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/arca-secrets/arca/logical"
)

// defaultTTL is a credential's life when neither the role nor the mount
// says: an hour.
const defaultTTL = time.Hour

// expirationLayout is how {{expiration}} is written (VALID UNTIL).
const expirationLayout = "2006-01-02 15:04:05-0700"

// createTimeout bounds a user's creation, which a client hanging up does
// not cut short.
const createTimeout = 30 * time.Second

// issueCreds creates a user for a role and hands it out under a lease.
func (e *Engine) issueCreds(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	r, err := getRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "unknown role: %s", name)
	}
	pool, conf, err := e.pools.get(ctx, req.Storage, r.DBName)
	if err != nil {
		return nil, err
	}
	if !conf.allows(name) {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "role %q is not in the allowed_roles of database %q", name, r.DBName)
	}
	ttl, maxTTL := credTTLs(r, req)
	now := e.now()
	username, err := generateUsername(conf.UsernameTemplate, name, req.DisplayName, now)
	if err != nil {
		return nil, err
	}
	password, err := e.newPassword(ctx, conf)
	if err != nil {
		return nil, err
	}
	v := vars{name: username, password: password, expiration: now.Add(ttl).UTC().Format(expirationLayout)}
	// Once started, the creation runs to its end even if the client hangs
	// up: cancelled during the commit, it could leave a user that exists
	// with no lease to drop it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), createTimeout)
	defer cancel()
	if err := inTx(ctx, pool, r.DBName, password, func(tx pgx.Tx) error {
		return run(ctx, tx, r.DBName, "creation_statements", r.Creation, v)
	}); err != nil {
		e.rollback(ctx, pool, r, v)
		// A failed commit may still have committed; make sure no user is
		// left behind without a lease.
		_ = dropUser(ctx, pool, r.DBName, username, r.Revocation)
		return nil, err
	}
	return &logical.Response{
		Data: map[string]any{"username": username, "password": password},
		Secret: &logical.Secret{TTL: ttl, MaxTTL: maxTTL, Renewable: true, InternalData: map[string]any{
			"username": username, "role": name, "db_name": r.DBName,
		}},
	}, nil
}

// credTTLs is the role's TTL and maximum, else the mount's, else an hour.
func credTTLs(r *role, req *logical.Request) (ttl, maxTTL time.Duration) {
	maxTTL = r.MaxTTL
	if maxTTL == 0 || req.MountMaxTTL > 0 && maxTTL > req.MountMaxTTL {
		maxTTL = req.MountMaxTTL
	}
	ttl = r.DefaultTTL
	if ttl == 0 {
		ttl = req.MountDefaultTTL
	}
	if ttl == 0 {
		ttl = defaultTTL
	}
	if maxTTL > 0 {
		ttl = min(ttl, maxTTL)
	}
	return ttl, maxTTL
}

// rollback runs the role's rollback statements after a failed creation
// (the transaction is already rolled back; these undo what a statement
// outside it, such as a grant on another database, may have done).
func (e *Engine) rollback(ctx context.Context, pool poolish, r *role, v vars) {
	if len(r.Rollback) == 0 {
		return
	}
	_ = inTx(ctx, pool, r.DBName, v.password, func(tx pgx.Tx) error {
		return run(ctx, tx, r.DBName, "rollback_statements", r.Rollback, v)
	})
}

// RevokeSecret drops a user whose lease ended: its sessions are ended,
// then the role's revocation statements run, or by default what it owns
// passes to the admin, its privileges go and the role is dropped. It is
// safe to repeat: a user already gone is success.
func (e *Engine) RevokeSecret(ctx context.Context, req *logical.Request, internal map[string]any) error {
	username, _ := internal["username"].(string)
	dbName, _ := internal["db_name"].(string)
	roleName, _ := internal["role"].(string)
	if err := safeValue("the lease's username", username); err != nil {
		return fmt.Errorf("lease holds no usable username: %w", err)
	}
	var stmts []string
	if roleName != "" {
		r, err := getRole(ctx, req.Storage, roleName)
		if err != nil {
			return err
		}
		if r != nil {
			stmts = r.Revocation
			if dbName == "" {
				dbName = r.DBName
			}
		}
	}
	pool, _, err := e.pools.get(ctx, req.Storage, dbName)
	if err != nil {
		return err
	}
	return dropUser(ctx, pool, dbName, username, stmts)
}

// dropUser ends a user's sessions and drops it with stmts (the role's
// revocation statements) or, without any, the default statements. A user
// that does not exist is success.
func dropUser(ctx context.Context, pool poolish, dbName, username string, stmts []string) error {
	return inTx(ctx, pool, dbName, "", func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", username).Scan(&exists); err != nil {
			return dbError(dbName, "looking up the user", err)
		}
		if !exists {
			return nil
		}
		if _, err := tx.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()", username); err != nil {
			return dbError(dbName, "ending the user's sessions", err)
		}
		if len(stmts) > 0 {
			return run(ctx, tx, dbName, "revocation_statements", stmts, vars{name: username})
		}
		id := pgx.Identifier{username}.Sanitize()
		for _, stmt := range []string{"REASSIGN OWNED BY " + id + " TO CURRENT_USER", "DROP OWNED BY " + id, "DROP ROLE " + id} {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return dbError(dbName, "dropping the user", err)
			}
		}
		return nil
	})
}

// RenewSecret extends a user's validity to expire, with the role's renew
// statements or by default ALTER ROLE ... VALID UNTIL.
func (e *Engine) RenewSecret(ctx context.Context, req *logical.Request, internal map[string]any, expire time.Time) error {
	username, _ := internal["username"].(string)
	roleName, _ := internal["role"].(string)
	if err := safeValue("the lease's username", username); err != nil {
		return fmt.Errorf("lease holds no usable username: %w", err)
	}
	r, err := getRole(ctx, req.Storage, roleName)
	if err != nil {
		return err
	}
	if r == nil {
		return logical.Errorf(logical.ErrInvalidRequest, "the role %q that issued this credential no longer exists", roleName)
	}
	pool, _, err := e.pools.get(ctx, req.Storage, r.DBName)
	if err != nil {
		return err
	}
	stmts := r.Renew
	if len(stmts) == 0 {
		stmts = []string{`ALTER ROLE "{{name}}" VALID UNTIL '{{expiration}}'`}
	}
	v := vars{name: username, expiration: expire.UTC().Format(expirationLayout)}
	return inTx(ctx, pool, r.DBName, "", func(tx pgx.Tx) error {
		return run(ctx, tx, r.DBName, "renew_statements", stmts, v)
	})
}
