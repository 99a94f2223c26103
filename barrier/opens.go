package barrier

// OpensKeyring reports whether the root key held in memory opens sealed,
// a keyring as stored at KeyringPath but taken from elsewhere (a raft
// snapshot's, or what storage holds after a restore): nil if it does,
// ErrBadRootKey if another root key sealed it, so that a keyring from
// another cluster is told apart before it replaces this one.
func (b *Barrier) OpensKeyring(sealed []byte) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.sealed {
		return ErrSealed
	}
	if n, err := parseHeader(sealed); err != nil || n != rootTermNumber {
		return ErrCorruptKeyring
	}
	rt, err := rootTerm(b.root.Bytes())
	if err != nil {
		return err
	}
	plain, err := open(rt.aead, KeyringPath, sealed)
	if err != nil {
		return ErrBadRootKey
	}
	clear(plain)
	return nil
}
