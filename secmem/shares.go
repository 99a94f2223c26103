package secmem

import (
	"crypto/subtle"
	"fmt"
)

// Shares is a set of key shares given one at a time (unseal, rekey), each
// in its own Buffer. The zero value is empty and ready; it is not safe for
// concurrent use.
type Shares struct {
	Mode Mode
	bufs []*Buffer
}

// Add copies share into locked memory, unless an equal share is held
// already (compared in constant time): then it reports false.
func (s *Shares) Add(share []byte) (bool, error) {
	for _, b := range s.bufs {
		if subtle.ConstantTimeCompare(b.Bytes(), share) == 1 {
			return false, nil
		}
	}
	buf, err := New(len(share), s.Mode)
	if err != nil {
		return false, fmt.Errorf("locking key share: %w", err)
	}
	copy(buf.Bytes(), share)
	s.bufs = append(s.bufs, buf)
	return true, nil
}

// Len is the number of shares held.
func (s *Shares) Len() int { return len(s.bufs) }

// Views returns the shares without copying them out of locked memory;
// they are valid until Destroy.
func (s *Shares) Views() [][]byte {
	views := make([][]byte, len(s.bufs))
	for i, b := range s.bufs {
		views[i] = b.Bytes()
	}
	return views
}

// Destroy wipes and frees every share; the set is empty again.
func (s *Shares) Destroy() {
	for _, b := range s.bufs {
		b.Destroy()
	}
	s.bufs = nil
}
