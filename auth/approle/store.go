package approle

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/arca-secrets/arca/auth/internal/tokenfields"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

const (
	saltKey        = "salt"
	rolePrefix     = "role/"
	roleIDPrefix   = "role_id/"
	secretIDPrefix = "secret_id/"
	accessorPrefix = "accessor/"
)

// role is one stored AppRole.
type role struct {
	RoleID             string   `json:"role_id"`
	BindSecretID       bool     `json:"bind_secret_id"`
	SecretIDBoundCIDRs []string `json:"secret_id_bound_cidrs,omitempty"`
	SecretIDNumUses    int      `json:"secret_id_num_uses,omitempty"`
	SecretIDTTL        int64    `json:"secret_id_ttl,omitempty"` // seconds
	tokenfields.Fields
}

// secretID is what is kept of one secret ID: its properties, never the
// secret ID itself (the storage key holds its HMAC).
type secretID struct {
	Accessor        string            `json:"secret_id_accessor"`
	CIDRList        []string          `json:"cidr_list,omitempty"`
	TokenBoundCIDRs []string          `json:"token_bound_cidrs,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	// NumUses is the number of logins left; zero is unlimited.
	NumUses        int       `json:"secret_id_num_uses"`
	TTL            int64     `json:"secret_id_ttl"` // seconds, as issued
	CreationTime   time.Time `json:"creation_time"`
	ExpirationTime time.Time `json:"expiration_time"` // zero: never
	LastUpdated    time.Time `json:"last_updated_time"`
}

func (s *secretID) expired(now time.Time) bool {
	return !s.ExpirationTime.IsZero() && !now.Before(s.ExpirationTime)
}

// accessorEntry points from an accessor to its secret ID's HMAC.
type accessorEntry struct {
	SecretIDHMAC string `json:"secret_id_hmac"`
}

// hmacOf returns the hex HMAC-SHA256 of value under the mount's salt.
// kind separates the uses (role IDs and secret IDs), so that the same
// string used as both never gives the same key.
func (e *engine) hmacOf(ctx context.Context, st storage.Backend, kind, value string) (string, error) {
	salt, err := e.loadSalt(ctx, st)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil)), nil
}

// loadSalt returns the mount's salt, making and storing it on first use.
func (e *engine) loadSalt(ctx context.Context, st storage.Backend) ([]byte, error) {
	e.saltMu.Lock()
	defer e.saltMu.Unlock()
	if e.salt != nil {
		return e.salt, nil
	}
	entry, err := st.Get(ctx, saltKey)
	if err != nil {
		return nil, storageErr("reading salt", err)
	}
	if entry != nil {
		e.salt = entry.Value
		return e.salt, nil
	}
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("approle: generating salt: %w", err)
	}
	if err := st.Put(ctx, &storage.Entry{Key: saltKey, Value: salt}); err != nil {
		return nil, storageErr("writing salt", err)
	}
	e.salt = salt
	return salt, nil
}

// getJSON decodes the entry at key into v; found is false when absent.
func getJSON(ctx context.Context, st storage.Backend, key string, v any) (found bool, err error) {
	entry, err := st.Get(ctx, key)
	if err != nil {
		return false, storageErr("reading", err)
	}
	if entry == nil {
		return false, nil
	}
	if err := json.Unmarshal(entry.Value, v); err != nil {
		return false, storageErr("decoding", err)
	}
	return true, nil
}

func putJSON(ctx context.Context, st storage.Backend, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return storageErr("encoding", err)
	}
	if err := st.Put(ctx, &storage.Entry{Key: key, Value: raw}); err != nil {
		return storageErr("writing", err)
	}
	return nil
}

func deleteKey(ctx context.Context, st storage.Backend, key string) error {
	if err := st.Delete(ctx, key); err != nil {
		return storageErr("deleting", err)
	}
	return nil
}

func loadRole(ctx context.Context, st storage.Backend, name string) (*role, error) {
	var r role
	found, err := getJSON(ctx, st, rolePrefix+name, &r)
	if err != nil || !found {
		return nil, err
	}
	return &r, nil
}

// mustRole loads a role that a request names, failing when it is absent.
func mustRole(ctx context.Context, st storage.Backend, name string) (*role, error) {
	r, err := loadRole(ctx, st, name)
	if err == nil && r == nil {
		err = logical.Errorf(logical.ErrInvalidRequest, "role %q does not exist", name)
	}
	return r, err
}

// roleByID returns the name of the role whose role ID has this HMAC, or "".
func roleByID(ctx context.Context, st storage.Backend, idHMAC string) (string, error) {
	var name string
	_, err := getJSON(ctx, st, roleIDPrefix+idHMAC, &name)
	return name, err
}

func secretKey(name, idHMAC string) string     { return secretIDPrefix + name + "/" + idHMAC }
func accessorKey(name, accessor string) string { return accessorPrefix + name + "/" + accessor }

func loadSecret(ctx context.Context, st storage.Backend, name, idHMAC string) (*secretID, error) {
	var s secretID
	found, err := getJSON(ctx, st, secretKey(name, idHMAC), &s)
	if err != nil || !found {
		return nil, err
	}
	return &s, nil
}

// deleteSecret removes a secret ID and its accessor. The secret goes
// first: an accessor left behind by a crash names nothing and is harmless.
func deleteSecret(ctx context.Context, st storage.Backend, name, idHMAC, accessor string) error {
	if err := deleteKey(ctx, st, secretKey(name, idHMAC)); err != nil {
		return err
	}
	return deleteKey(ctx, st, accessorKey(name, accessor))
}

// listKeys answers a list with the names under prefix, or nil (404) when
// there are none, as Vault does.
func listKeys(ctx context.Context, st storage.Backend, prefix string) (*logical.Response, error) {
	names, err := st.List(ctx, prefix)
	if err != nil {
		return nil, storageErr("listing", err)
	}
	return logical.ListResponse(names), nil
}
