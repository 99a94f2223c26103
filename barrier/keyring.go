package barrier

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/arca-secrets/arca/storage"
)

// rootTermNumber labels ciphertexts sealed with the root key (the keyring
// entry). Keyring terms start at 1, so the two can never be confused.
const rootTermNumber = 0

func rootTerm(rootKey []byte) (*term, error) {
	aead, err := newAEAD(rootKey)
	if err != nil {
		return nil, err
	}
	return &term{number: rootTermNumber, aead: aead}, nil
}

func (b *Barrier) writeKeyring(ctx context.Context, rootKey []byte, kr *storedKeyring) error {
	plain := kr.encode()
	defer clear(plain)
	rt, err := rootTerm(rootKey)
	if err != nil {
		return err
	}
	ct, err := seal(rt, KeyringPath, plain)
	if err != nil {
		return err
	}
	if err := b.backend.Put(ctx, &storage.Entry{Key: KeyringPath, Value: ct}); err != nil {
		return fmt.Errorf("writing keyring: %w", err)
	}
	return nil
}

func (b *Barrier) readKeyring(ctx context.Context, rootKey []byte) (*storedKeyring, error) {
	e, err := b.backend.Get(ctx, KeyringPath)
	if err != nil {
		return nil, fmt.Errorf("reading keyring: %w", err)
	}
	if e == nil {
		return nil, ErrNotInitialized
	}
	n, err := parseHeader(e.Value)
	if err != nil || n != rootTermNumber {
		return nil, ErrCorruptKeyring
	}
	rt, err := rootTerm(rootKey)
	if err != nil {
		return nil, err
	}
	plain, err := open(rt.aead, KeyringPath, e.Value)
	if err != nil {
		return nil, ErrBadRootKey
	}
	defer clear(plain)
	var kr storedKeyring
	if err := json.Unmarshal(plain, &kr); err != nil {
		return nil, ErrCorruptKeyring
	}
	return &kr, nil
}

// currentKeyring returns the in-memory keyring in its stored form; the
// caller wipes it. b.mu must be held.
func (b *Barrier) currentKeyring() *storedKeyring {
	kr := &storedKeyring{}
	for _, t := range b.terms {
		kr.Terms = append(kr.Terms, storedTerm{
			Term:      t.number,
			Key:       append([]byte(nil), t.key.Bytes()...),
			Installed: t.installed,
		})
	}
	sort.Slice(kr.Terms, func(i, j int) bool { return kr.Terms[i].Term < kr.Terms[j].Term })
	return kr
}

// Rotate adds a new keyring term; new writes use it, older entries stay
// readable. It returns the new term number.
func (b *Barrier) Rotate(ctx context.Context) (uint32, error) {
	b.keyLock.Lock()
	defer b.keyLock.Unlock()

	b.mu.RLock()
	if b.sealed {
		b.mu.RUnlock()
		return 0, ErrSealed
	}
	kr := b.currentKeyring()
	next := b.active.number + 1
	b.mu.RUnlock()
	defer kr.wipe()

	key := make([]byte, KeySize)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return 0, fmt.Errorf("generating key: %w", err)
	}
	st := storedTerm{Term: next, Key: key, Installed: b.now().UTC()}
	kr.Terms = append(kr.Terms, st)
	t, err := b.newTerm(st)
	if err != nil {
		return 0, err
	}
	// Persist before use: a term must never seal data before the keyring
	// that holds it is durable.
	b.mu.RLock()
	err = b.writeKeyring(ctx, b.root.Bytes(), kr)
	b.mu.RUnlock()
	if err != nil {
		t.key.Destroy()
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sealed {
		t.key.Destroy()
		return 0, ErrSealed
	}
	b.terms[t.number] = t
	b.active = t
	exportKeysForTest(b.root.Bytes(), kr)
	return t.number, nil
}

// KeyStatus describes the active keyring term.
type KeyStatus struct {
	Term        uint32
	InstallTime time.Time
	Encryptions uint64
}

// KeyStatus returns the active term's number, install time and how many
// entries it has sealed since unseal.
func (b *Barrier) KeyStatus() (KeyStatus, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.sealed {
		return KeyStatus{}, ErrSealed
	}
	return KeyStatus{Term: b.active.number, InstallTime: b.active.installed, Encryptions: b.active.encryptions.Load()}, nil
}

// VerifyRootKey reports whether rootKey opens the stored keyring, without
// changing the barrier's state.
func (b *Barrier) VerifyRootKey(ctx context.Context, rootKey []byte) error {
	if len(rootKey) != KeySize {
		return ErrBadKeySize
	}
	kr, err := b.readKeyring(ctx, rootKey)
	if err != nil {
		return err
	}
	kr.wipe()
	return nil
}

// SealWithKey encrypts plaintext with a 32-byte key outside any keyring, in
// the barrier's format with term 0, bound to path. Core uses it to store the
// root key sealed by the unseal key.
func SealWithKey(key []byte, path string, plaintext []byte) ([]byte, error) {
	if len(key) != KeySize {
		return nil, ErrBadKeySize
	}
	t, err := rootTerm(key)
	if err != nil {
		return nil, err
	}
	return seal(t, path, plaintext)
}

// OpenWithKey reverses SealWithKey; a wrong key, path or tampered input
// gives ErrCorruptEntry.
func OpenWithKey(key []byte, path string, ciphertext []byte) ([]byte, error) {
	if len(key) != KeySize {
		return nil, ErrBadKeySize
	}
	n, err := parseHeader(ciphertext)
	if err != nil {
		return nil, err
	}
	if n != rootTermNumber {
		return nil, ErrCorruptEntry
	}
	t, err := rootTerm(key)
	if err != nil {
		return nil, err
	}
	return open(t.aead, path, ciphertext)
}

// encode writes the keyring as the JSON that json.Unmarshal reads back,
// into one buffer that the caller clears. json.Marshal would leave a copy
// of the term keys in encoding/json's pooled buffer, out of reach.
func (kr *storedKeyring) encode() []byte {
	size := len(`{"terms":[]}`)
	for _, t := range kr.Terms {
		size += len(`{"term":,"key":"","installed":""},`) + 10 + base64.StdEncoding.EncodedLen(len(t.Key)) + len(time.RFC3339Nano) + 10
	}
	out := make([]byte, 0, size)
	out = append(out, `{"terms":[`...)
	for i, t := range kr.Terms {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"term":`...)
		out = strconv.AppendUint(out, uint64(t.Term), 10)
		out = append(out, `,"key":"`...)
		out = base64.StdEncoding.AppendEncode(out, t.Key)
		out = append(out, `","installed":"`...)
		out = t.Installed.AppendFormat(out, time.RFC3339Nano)
		out = append(out, `"}`...)
	}
	return append(out, `]}`...)
}
