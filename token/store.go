package token

import (
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/arca-secrets/arca/internal/stripe"
	"github.com/arca-secrets/arca/internal/tally"
	"github.com/arca-secrets/arca/storage"
)

const (
	saltPath       = "salt"
	idPrefix       = "id/"
	accessorPrefix = "accessor/"
	parentPrefix   = "parent/"
)

// Config is what a Store is built from.
type Config struct {
	// Storage is the store's own view of the barrier.
	Storage storage.Backend
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// DefaultTTL and MaxTTL are the system defaults (768h each when zero).
	DefaultTTL, MaxTTL time.Duration
	// BeforeRevoke is called with a batch of tokens being revoked, before
	// their entries go, to revoke what they own (the secret leases they
	// created, their cubbyholes); it returns one error per token, and a
	// token with an error is kept (with its ancestors) for a later try.
	// Nil means nothing.
	BeforeRevoke func(ctx context.Context, es []*Entry) []error
	// AfterRevoke is called with the tokens whose entries are gone, to
	// drop what stands for them (their own leases). Nil means nothing.
	AfterRevoke func(ctx context.Context, es []*Entry) error
}

// Store keeps token entries.
type Store struct {
	view       storage.Backend
	salt       []byte
	now        func() time.Time
	defaultTTL time.Duration
	maxTTL     time.Duration
	before     func(ctx context.Context, es []*Entry) []error
	after      func(ctx context.Context, es []*Entry) error

	// mu serialises changes to entries (use counts, renewals, revocation),
	// so a token with one use left is used once. Creations hold it only
	// for reading: they change no existing entry, so they run side by side
	// (and share storage commits), while a revocation waits for them and
	// they for it, so no child is created under a parent being revoked.
	mu sync.RWMutex
	// createLocks make the check that a token ID is free and the write
	// that takes it one step, per ID hash, among concurrent creations.
	createLocks stripe.Locks

	// batch seals batch tokens.
	batch cipher.AEAD
	// revokedMounts are auth mounts disabled since unseal: their batch
	// tokens, which cannot be found to revoke, stop working.
	revokedMounts sync.Map // accessor -> true

	// cache holds decoded entries for the token check.
	cache entryCache
	// count is how many service tokens are stored.
	count tally.Count
}

// DefaultSystemTTL is Vault's default and maximum token TTL (32 days).
const DefaultSystemTTL = 768 * time.Hour

// Open loads the store's salt, creating it on first use.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s := &Store{view: cfg.Storage, now: cfg.Now, defaultTTL: cfg.DefaultTTL, maxTTL: cfg.MaxTTL, before: cfg.BeforeRevoke, after: cfg.AfterRevoke}
	if s.now == nil {
		s.now = time.Now
	}
	if s.defaultTTL == 0 {
		s.defaultTTL = DefaultSystemTTL
	}
	if s.maxTTL == 0 {
		s.maxTTL = DefaultSystemTTL
	}
	e, err := s.view.Get(ctx, saltPath)
	if err != nil {
		return nil, fmt.Errorf("reading token salt: %w", err)
	}
	if e != nil {
		s.salt = e.Value
	} else {
		s.salt = make([]byte, 32)
		if _, err := rand.Read(s.salt); err != nil {
			return nil, err
		}
		if err := s.view.Put(ctx, &storage.Entry{Key: saltPath, Value: s.salt}); err != nil {
			return nil, fmt.Errorf("writing token salt: %w", err)
		}
	}
	if err := s.loadBatchKey(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Wipe clears the salt from memory (at seal).
func (s *Store) Wipe() {
	if s != nil {
		clear(s.salt)
	}
}

// Hash returns the storage key of token.
func (s *Store) Hash(token string) string {
	m := hmac.New(sha256.New, s.salt)
	m.Write([]byte(token))
	return hex.EncodeToString(m.Sum(nil))
}

// Now returns the store's clock reading.
func (s *Store) Now() time.Time { return s.now() }

func (s *Store) put(ctx context.Context, e *Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	s.cache.drop(e.Hash)
	defer s.cache.drop(e.Hash)
	return s.view.Put(ctx, &storage.Entry{Key: idPrefix + e.Hash, Value: b})
}

func (s *Store) getByHash(ctx context.Context, hash string) (*Entry, error) {
	if e, ok := s.cache.get(hash); ok {
		return e, nil
	}
	gen := s.cache.begin()
	raw, err := s.view.Get(ctx, idPrefix+hash)
	if err != nil {
		return nil, fmt.Errorf("reading token: %w", err)
	}
	if raw == nil {
		return nil, ErrNotFound
	}
	var e Entry
	if err := json.Unmarshal(raw.Value, &e); err != nil {
		return nil, fmt.Errorf("decoding token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(e.Hash), []byte(hash)) != 1 {
		return nil, ErrNotFound
	}
	s.cache.fill(gen, &e)
	return &e, nil
}

// Lookup returns the entry of a live token (with ID set), or ErrNotFound
// for an unknown or expired one.
func (s *Store) Lookup(ctx context.Context, token string) (*Entry, error) {
	if token == "" || len(token) > 4096 {
		return nil, ErrNotFound
	}
	if IsBatch(token) {
		return s.lookupBatch(ctx, token)
	}
	e, err := s.getByHash(ctx, s.Hash(token))
	if err != nil {
		return nil, err
	}
	if e.Expired(s.now()) {
		return nil, ErrNotFound
	}
	e.ID = token
	return e, nil
}

// LookupAccessor returns the entry an accessor names (without ID).
func (s *Store) LookupAccessor(ctx context.Context, accessor string) (*Entry, error) {
	if accessor == "" || !storage.ValidKey(accessorPrefix+accessor) || len(accessor) > 128 {
		return nil, ErrNotFound
	}
	raw, err := s.view.Get(ctx, accessorPrefix+accessor)
	if err != nil {
		return nil, fmt.Errorf("reading accessor: %w", err)
	}
	if raw == nil {
		return nil, ErrNotFound
	}
	e, err := s.getByHash(ctx, string(raw.Value))
	if err != nil {
		return nil, err
	}
	if e.Expired(s.now()) {
		return nil, ErrNotFound
	}
	return e, nil
}

// Count returns how many service tokens are stored: the accessor index is
// counted once, then kept by creations and revocations.
func (s *Store) Count(ctx context.Context) (int64, error) {
	return s.count.Get(func() (int64, error) {
		accs, err := s.view.List(ctx, accessorPrefix)
		return int64(len(accs)), err
	})
}

// Accessors lists every token's accessor.
func (s *Store) Accessors(ctx context.Context) ([]string, error) {
	return s.view.List(ctx, accessorPrefix)
}

// Use counts one use of a token with a use limit; the use that exhausts it
// revokes it (the request it was used for still proceeds). It returns
// ErrNotFound when no use is left.
func (s *Store) Use(ctx context.Context, e *Entry) error {
	if e.NumUses == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.getByHash(ctx, e.Hash)
	if err != nil {
		return err
	}
	if cur.NumUses <= 0 {
		return ErrNotFound
	}
	cur.NumUses--
	if cur.NumUses == 0 {
		return errors.Join(s.revokeTreesLocked(ctx, []string{cur.Accessor})...)
	}
	return s.put(ctx, cur)
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
