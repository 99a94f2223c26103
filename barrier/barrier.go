// Package barrier encrypts everything Arca writes to storage.
//
// The barrier holds a keyring: numbered terms of AES-256 keys. Every entry is
// sealed with AES-256-GCM under the newest term; older terms stay readable so
// that rotation never rewrites data in the request path. The keyring itself
// is stored at KeyringPath, sealed with the root key, which the barrier never
// stores: core hands it over at unseal and the barrier keeps it only in
// locked memory (package secmem) until Seal.
//
// Ciphertext format, version 1:
//
//	[ version:1 byte = 0x01 | term:4 bytes big-endian | nonce:12 bytes | GCM ciphertext+tag ]
//
// The associated data is the 5-byte header followed by the storage key, so
// an entry copied or moved to another key, or relabelled with another term,
// fails to decrypt. Nonces are 96 random bits from crypto/rand; with random
// nonces a term must not seal more than 2^32 entries, so core counts
// encryptions per term (KeyStatus) and an operator rotates long before that.
//
// What is not protected: Go's AES key schedule (inside cipher.Block) lives in
// the ordinary heap, because crypto/aes offers no way to place it elsewhere.
// The raw key bytes stay in locked, non-dumpable memory, and the process as a
// whole is made non-dumpable at start.
package barrier

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arca-secrets/arca/secmem"
	"github.com/arca-secrets/arca/storage"
)

// KeyringPath is where the sealed keyring lives in the underlying backend.
const KeyringPath = "core/keyring"

// KeySize is the size of the root key and of every keyring term.
const KeySize = 32

const (
	formatVersion = 0x01
	headerSize    = 5
	nonceSize     = 12
)

// Config is what a Barrier is built from.
type Config struct {
	// Backend is the untrusted storage under the barrier.
	Backend storage.Backend
	// Memory says whether key buffers must be locked (RequireLock, the
	// default) or may stay unlocked when the lock limit is reached.
	Memory secmem.Mode
	// Now is the clock used for term install times; time.Now when nil.
	Now func() time.Time
}

// Barrier is an encrypting storage.Backend over another Backend.
type Barrier struct {
	backend storage.Backend
	memory  secmem.Mode
	now     func() time.Time

	mu      sync.RWMutex
	root    *secmem.Buffer // nil while sealed
	terms   map[uint32]*term
	active  *term
	sealed  bool
	keyLock sync.Mutex // serialises keyring writes (rotate, rekey)
}

var _ storage.Backend = (*Barrier)(nil)

type term struct {
	number      uint32
	installed   time.Time
	key         *secmem.Buffer
	aead        cipher.AEAD
	encryptions atomic.Uint64
}

// New returns a sealed barrier over cfg.Backend.
func New(cfg Config) *Barrier {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Barrier{backend: cfg.Backend, memory: cfg.Memory, now: now, sealed: true}
}

// Initialized reports whether a keyring has been written.
func (b *Barrier) Initialized(ctx context.Context) (bool, error) {
	e, err := b.backend.Get(ctx, KeyringPath)
	if err != nil {
		return false, fmt.Errorf("reading keyring: %w", err)
	}
	return e != nil, nil
}

// Initialize writes a new keyring with one term, sealed with rootKey. The
// barrier stays sealed.
func (b *Barrier) Initialize(ctx context.Context, rootKey []byte) error {
	if len(rootKey) != KeySize {
		return ErrBadKeySize
	}
	b.keyLock.Lock()
	defer b.keyLock.Unlock()
	ok, err := b.Initialized(ctx)
	if err != nil {
		return err
	}
	if ok {
		return ErrAlreadyInitialized
	}
	first := make([]byte, KeySize)
	defer clear(first)
	if _, err := rand.Read(first); err != nil {
		return fmt.Errorf("generating key: %w", err)
	}
	kr := storedKeyring{Terms: []storedTerm{{Term: 1, Key: first, Installed: b.now().UTC()}}}
	return b.writeKeyring(ctx, rootKey, &kr)
}

// Sealed reports whether the barrier is sealed.
func (b *Barrier) Sealed() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.sealed
}

// Unseal opens the keyring with rootKey. A wrong root key gives ErrBadRootKey
// and leaves the barrier sealed.
func (b *Barrier) Unseal(ctx context.Context, rootKey []byte) error {
	if len(rootKey) != KeySize {
		return ErrBadKeySize
	}
	b.keyLock.Lock()
	defer b.keyLock.Unlock()
	kr, err := b.readKeyring(ctx, rootKey)
	if err != nil {
		return err
	}
	defer kr.wipe()
	root, err := secmem.New(KeySize, b.memory)
	if err != nil {
		return fmt.Errorf("locking root key: %w", err)
	}
	copy(root.Bytes(), rootKey)
	terms, active, err := b.loadTerms(kr)
	if err != nil {
		root.Destroy()
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.sealed {
		root.Destroy()
		destroyTerms(terms)
		return nil
	}
	b.root, b.terms, b.active, b.sealed = root, terms, active, false
	exportKeysForTest(rootKey, kr)
	return nil
}

// Seal wipes every key from memory. It is safe to call when sealed.
func (b *Barrier) Seal() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sealed {
		return
	}
	b.root.Destroy()
	destroyTerms(b.terms)
	b.root, b.terms, b.active, b.sealed = nil, nil, nil, true
}

func destroyTerms(terms map[uint32]*term) {
	for _, t := range terms {
		t.key.Destroy()
	}
}

func (b *Barrier) loadTerms(kr *storedKeyring) (map[uint32]*term, *term, error) {
	terms := make(map[uint32]*term, len(kr.Terms))
	var active *term
	for _, st := range kr.Terms {
		t, err := b.newTerm(st)
		if err != nil {
			destroyTerms(terms)
			return nil, nil, err
		}
		terms[t.number] = t
		if active == nil || t.number > active.number {
			active = t
		}
	}
	if active == nil {
		return nil, nil, ErrCorruptKeyring
	}
	return terms, active, nil
}

func (b *Barrier) newTerm(st storedTerm) (*term, error) {
	if len(st.Key) != KeySize || st.Term == 0 {
		return nil, ErrCorruptKeyring
	}
	buf, err := secmem.New(KeySize, b.memory)
	if err != nil {
		return nil, fmt.Errorf("locking keyring term %d: %w", st.Term, err)
	}
	copy(buf.Bytes(), st.Key)
	aead, err := newAEAD(buf.Bytes())
	if err != nil {
		buf.Destroy()
		return nil, err
	}
	return &term{number: st.Term, installed: st.Installed, key: buf, aead: aead}, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("creating cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// seal encrypts plaintext for key with the given term.
func seal(t *term, key string, plaintext []byte) ([]byte, error) {
	out := make([]byte, headerSize+nonceSize, headerSize+nonceSize+len(plaintext)+t.aead.Overhead())
	out[0] = formatVersion
	binary.BigEndian.PutUint32(out[1:headerSize], t.number)
	if _, err := rand.Read(out[headerSize:]); err != nil {
		return nil, fmt.Errorf("generating nonce: %w", err)
	}
	ad := associatedData(out[:headerSize], key)
	t.encryptions.Add(1)
	return t.aead.Seal(out, out[headerSize:], plaintext, ad), nil
}

func associatedData(header []byte, key string) []byte {
	ad := make([]byte, 0, len(header)+len(key))
	ad = append(ad, header...)
	return append(ad, key...)
}

// parseHeader returns the term number of a ciphertext.
func parseHeader(ct []byte) (uint32, error) {
	if len(ct) < headerSize+nonceSize+16 {
		return 0, ErrCorruptEntry
	}
	if ct[0] != formatVersion {
		return 0, fmt.Errorf("%w: unknown format version %d", ErrCorruptEntry, ct[0])
	}
	return binary.BigEndian.Uint32(ct[1:headerSize]), nil
}

func open(aead cipher.AEAD, key string, ct []byte) ([]byte, error) {
	ad := associatedData(ct[:headerSize], key)
	nonce := ct[headerSize : headerSize+nonceSize]
	pt, err := aead.Open(nil, nonce, ct[headerSize+nonceSize:], ad)
	if err != nil {
		return nil, ErrCorruptEntry
	}
	return pt, nil
}

// storedKeyring is the keyring's plaintext form, only ever held briefly
// while it is being sealed or opened.
type storedKeyring struct {
	Terms []storedTerm `json:"terms"`
}

type storedTerm struct {
	Term      uint32    `json:"term"`
	Key       []byte    `json:"key"`
	Installed time.Time `json:"installed"`
}

func (kr *storedKeyring) wipe() {
	for _, t := range kr.Terms {
		clear(t.Key)
	}
}
