package secmem

import (
	"crypto/aes"
	"crypto/cipher"
)

// AESGCM returns AES-GCM under key. Go keeps an AES key schedule on the
// heap, and its first round keys are the key itself; made inside Do, the
// schedule is erased once the cipher is dropped (a sealed barrier, a
// deleted transit key), whichever goroutine made it.
func AESGCM(key []byte) (aead cipher.AEAD, err error) {
	Do(func() {
		var block cipher.Block
		if block, err = aes.NewCipher(key); err != nil {
			return
		}
		aead, err = cipher.NewGCM(block)
	})
	return aead, err
}
