package token

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/arca-secrets/arca/storage"
)

// Batch tokens are not stored: the token is the entry itself, sealed with
// AES-256-GCM under a key kept in the barrier. They cost no write to
// create and no read to check, for high-volume short-lived work, and in
// exchange cannot be renewed, revoked one by one, create children or use a
// cubbyhole. One whose parent is revoked stops working.
//
// Format: "b." + base64url(nonce(12) | GCM(JSON of batchClaims)).

const (
	batchPrefix  = "b."
	batchKeyPath = "batch-key"
	batchAD      = "arca batch token v1"
)

type batchClaims struct {
	Policies      []string          `json:"p"`
	Created       int64             `json:"c"`
	Expires       int64             `json:"x"`
	TTL           int64             `json:"t"`
	Parent        string            `json:"pa,omitempty"`
	DisplayName   string            `json:"d,omitempty"`
	Path          string            `json:"pt,omitempty"`
	Meta          map[string]string `json:"m,omitempty"`
	BoundCIDRs    []string          `json:"b,omitempty"`
	MountAccessor string            `json:"ma,omitempty"`
}

// IsBatch reports whether a token string is a batch token.
func IsBatch(tok string) bool { return strings.HasPrefix(tok, batchPrefix) }

func (s *Store) loadBatchKey(ctx context.Context) error {
	e, err := s.view.Get(ctx, batchKeyPath)
	if err != nil {
		return fmt.Errorf("reading batch token key: %w", err)
	}
	key := make([]byte, 32)
	if e != nil && len(e.Value) == 32 {
		copy(key, e.Value)
	} else {
		if _, err := rand.Read(key); err != nil {
			return err
		}
		if err := s.view.Put(ctx, &storage.Entry{Key: batchKeyPath, Value: key}); err != nil {
			return fmt.Errorf("writing batch token key: %w", err)
		}
	}
	block, err := aes.NewCipher(key)
	clear(key)
	if err != nil {
		return err
	}
	s.batch, err = cipher.NewGCM(block)
	return err
}

// CreateBatch makes a batch token. Parent, when set, must be a service
// token; the batch token dies with it.
func (s *Store) CreateBatch(ctx context.Context, req CreateRequest) (*Entry, error) {
	if req.Parent != nil && req.Parent.Type == "batch" {
		return nil, fmt.Errorf("%w: a batch token cannot create tokens", ErrInvalid)
	}
	if req.NumUses != 0 || req.Period != 0 || req.ID != "" {
		return nil, fmt.Errorf("%w: batch tokens take no num_uses, period or id", ErrInvalid)
	}
	if req.Parent != nil && req.Parent.NumUses > 0 {
		return nil, fmt.Errorf("%w: a token with a use limit cannot create child tokens", ErrInvalid)
	}
	now := s.now().UTC()
	e := &Entry{Policies: normalisePolicies(req.Policies), Path: req.Path, DisplayName: req.DisplayName, Meta: req.Meta,
		CreationTime: now, Orphan: req.Parent == nil, Type: "batch", BoundCIDRs: req.BoundCIDRs, MountAccessor: req.MountAccessor}
	if req.Parent != nil {
		e.Parent = req.Parent.Accessor
	}
	s.setExpiry(e, req, now)
	claims := batchClaims{Policies: e.Policies, Created: now.UnixNano(), Expires: e.ExpireTime.UnixNano(), TTL: int64(e.TTL),
		Parent: e.Parent, DisplayName: e.DisplayName, Path: e.Path, Meta: e.Meta, BoundCIDRs: e.BoundCIDRs, MountAccessor: e.MountAccessor}
	plain, err := json.Marshal(claims)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, s.batch.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	sealed := s.batch.Seal(nonce, nonce, plain, []byte(batchAD))
	e.ID = batchPrefix + base64.RawURLEncoding.EncodeToString(sealed)
	e.Hash = s.Hash(e.ID)
	return e, nil
}

// lookupBatch opens a batch token; any failure is ErrNotFound.
func (s *Store) lookupBatch(ctx context.Context, tok string) (*Entry, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, batchPrefix))
	ns := s.batch.NonceSize()
	if err != nil || len(raw) < ns+s.batch.Overhead() {
		return nil, ErrNotFound
	}
	plain, err := s.batch.Open(nil, raw[:ns], raw[ns:], []byte(batchAD))
	if err != nil {
		return nil, ErrNotFound
	}
	var c batchClaims
	if err := json.Unmarshal(plain, &c); err != nil {
		return nil, ErrNotFound
	}
	e := &Entry{ID: tok, Hash: s.Hash(tok), Policies: c.Policies, CreationTime: time.Unix(0, c.Created).UTC(),
		ExpireTime: time.Unix(0, c.Expires).UTC(), TTL: time.Duration(c.TTL), Parent: c.Parent, Orphan: c.Parent == "",
		DisplayName: c.DisplayName, Path: c.Path, Meta: c.Meta, BoundCIDRs: c.BoundCIDRs, MountAccessor: c.MountAccessor, Type: "batch"}
	if e.Expired(s.now()) {
		return nil, ErrNotFound
	}
	if e.Parent != "" {
		if _, err := s.LookupAccessor(ctx, e.Parent); err != nil {
			return nil, ErrNotFound
		}
	}
	if _, gone := s.revokedMounts.Load(e.MountAccessor); e.MountAccessor != "" && gone {
		return nil, ErrNotFound
	}
	return e, nil
}
