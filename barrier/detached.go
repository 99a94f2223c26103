package barrier

// SealDetached encrypts plaintext with the active term for keeping
// outside storage (a raft snapshot's sums), bound to purpose: the
// associated data begins with a NUL, which no storage key holds, so a
// detached ciphertext and a stored entry never pass for each other.
func (b *Barrier) SealDetached(purpose string, plaintext []byte) ([]byte, error) {
	t, err := b.activeTerm()
	if err != nil {
		return nil, err
	}
	return seal(t, detachedKey(purpose), plaintext)
}

// OpenDetached opens what SealDetached sealed for purpose, with whichever
// term of the keyring sealed it.
func (b *Barrier) OpenDetached(purpose string, ct []byte) ([]byte, error) {
	return b.openAs(detachedKey(purpose), ct)
}

func detachedKey(purpose string) string { return "\x00detached/" + purpose }
