package core

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/arca-secrets/arca/storage"
)

const (
	tokenSaltPath   = "sys/token/salt"
	tokenIDPrefix   = "sys/token/id/"
	serviceTokenTag = "s."
)

// TokenEntry is what a token grants. The token itself is never stored:
// entries are keyed by an HMAC of it.
type TokenEntry struct {
	// Hash is HMAC-SHA256(salt, token), hex.
	Hash        string    `json:"hash"`
	Accessor    string    `json:"accessor"`
	Policies    []string  `json:"policies"`
	DisplayName string    `json:"display_name"`
	CreatedAt   time.Time `json:"created_at"`
}

// tokenStore keeps token entries in the barrier.
type tokenStore struct {
	store storage.Backend
	salt  []byte
	now   func() time.Time
}

func openTokenStore(ctx context.Context, store storage.Backend, now func() time.Time) (*tokenStore, error) {
	e, err := store.Get(ctx, tokenSaltPath)
	if err != nil {
		return nil, fmt.Errorf("reading token salt: %w", err)
	}
	var salt []byte
	if e != nil {
		salt = e.Value
	} else {
		salt = make([]byte, 32)
		if _, err := rand.Read(salt); err != nil {
			return nil, err
		}
		if err := store.Put(ctx, &storage.Entry{Key: tokenSaltPath, Value: salt}); err != nil {
			return nil, fmt.Errorf("writing token salt: %w", err)
		}
	}
	return &tokenStore{store: store, salt: salt, now: now}, nil
}

func (ts *tokenStore) wipe() {
	if ts != nil {
		clear(ts.salt)
	}
}

func (ts *tokenStore) hash(token string) string {
	m := hmac.New(sha256.New, ts.salt)
	m.Write([]byte(token))
	return hex.EncodeToString(m.Sum(nil))
}

// createRoot stores a root token and returns it. An empty id means a new
// random one.
func (ts *tokenStore) createRoot(ctx context.Context, id string) (string, error) {
	if id == "" {
		var err error
		if id, err = newToken(); err != nil {
			return "", err
		}
	}
	accessor, err := randomID()
	if err != nil {
		return "", err
	}
	entry := TokenEntry{
		Hash:        ts.hash(id),
		Accessor:    accessor,
		Policies:    []string{"root"},
		DisplayName: "root",
		CreatedAt:   ts.now().UTC(),
	}
	b, err := json.Marshal(entry)
	if err != nil {
		return "", err
	}
	if err := ts.store.Put(ctx, &storage.Entry{Key: tokenIDPrefix + entry.Hash, Value: b}); err != nil {
		return "", fmt.Errorf("writing token: %w", err)
	}
	return id, nil
}

// lookup returns the entry for token, or ErrPermissionDenied.
func (ts *tokenStore) lookup(ctx context.Context, token string) (*TokenEntry, error) {
	if token == "" || len(token) > 512 {
		return nil, ErrPermissionDenied
	}
	h := ts.hash(token)
	e, err := ts.store.Get(ctx, tokenIDPrefix+h)
	if err != nil {
		return nil, fmt.Errorf("reading token: %w", err)
	}
	if e == nil {
		return nil, ErrPermissionDenied
	}
	var entry TokenEntry
	if err := json.Unmarshal(e.Value, &entry); err != nil {
		return nil, fmt.Errorf("decoding token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(entry.Hash), []byte(h)) != 1 {
		return nil, ErrPermissionDenied
	}
	return &entry, nil
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newToken returns "s." and 24 base62 characters (about 143 bits).
func newToken() (string, error) {
	return randomString(serviceTokenTag, 24)
}

func randomString(prefix string, n int) (string, error) {
	out := make([]byte, 0, len(prefix)+n)
	out = append(out, prefix...)
	buf := make([]byte, 1)
	for len(out) < len(prefix)+n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		// Rejection sampling keeps the distribution uniform.
		if buf[0] < 248 {
			out = append(out, base62[buf[0]%62])
		}
	}
	return string(out), nil
}

// randomID returns a random UUID (version 4) string.
func randomID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// CheckToken returns the entry for token, or ErrPermissionDenied.
func (c *Core) CheckToken(ctx context.Context, token string) (*TokenEntry, error) {
	c.stateLock.RLock()
	defer c.stateLock.RUnlock()
	if c.sealed {
		return nil, ErrSealed
	}
	return c.tokens.lookup(ctx, token)
}

// revoke deletes token's entry.
func (ts *tokenStore) revoke(ctx context.Context, token string) error {
	return ts.store.Delete(ctx, tokenIDPrefix+ts.hash(token))
}
