package userpass

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"runtime"

	"golang.org/x/crypto/argon2"
)

// hashParams are argon2id's cost parameters. They are stored with every
// hash so that the defaults can be raised later without locking out users
// whose hashes were made with the old ones.
type hashParams struct {
	Time    uint32 `json:"time"`
	Memory  uint32 `json:"memory"` // KiB
	Threads uint8  `json:"threads"`
	KeyLen  uint32 `json:"key_len"`
}

// defaultParams are OWASP's argon2id recommendation (19 MiB, two passes,
// one thread): about 25 ms per login on one core. Measured with arca bench
// on 2 cores, RFC 9106's 64 MiB / 4 threads gave 9 logins/s with a 3 s p99
// under 16 concurrent logins, and a gigabyte of memory for sixteen guesses.
var defaultParams = hashParams{Time: 2, Memory: 19 * 1024, Threads: 1, KeyLen: 32}

// hashSlots bounds how many hashes run at once, so that a burst of logins
// queues instead of taking memory (Memory KiB each) without limit.
var hashSlots = make(chan struct{}, runtime.NumCPU())

func argonKey(password string, salt []byte, p hashParams) []byte {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	return argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}

const saltLen = 16

// passwordHash is what is stored instead of a password.
type passwordHash struct {
	Algorithm string     `json:"algorithm"` // always "argon2id"
	Params    hashParams `json:"params"`
	Salt      []byte     `json:"salt"`
	Hash      []byte     `json:"hash"`
}

// hashPassword hashes password with a fresh random salt.
func hashPassword(password string, p hashParams) (*passwordHash, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("userpass: generating salt: %w", err)
	}
	return &passwordHash{
		Algorithm: "argon2id",
		Params:    p,
		Salt:      salt,
		Hash:      argonKey(password, salt, p),
	}, nil
}

// verify reports whether password matches, comparing in constant time.
func (h *passwordHash) verify(password string) bool {
	if h.Algorithm != "argon2id" || h.Params.KeyLen == 0 || h.Params.Threads == 0 {
		return false
	}
	p := h.Params
	got := argonKey(password, h.Salt, p)
	return subtle.ConstantTimeCompare(got, h.Hash) == 1
}

// weakerThan reports whether h was made with lower costs than p, so that a
// successful login can re-hash the password with the current parameters.
func (h *passwordHash) weakerThan(p hashParams) bool {
	return h.Params.Time < p.Time || h.Params.Memory < p.Memory || h.Params.KeyLen < p.KeyLen
}

// dummyHash is verified against when the user does not exist, so that an
// unknown username costs the same time as a wrong password and logins do
// not reveal which usernames exist.
func dummyHash(p hashParams) *passwordHash {
	return &passwordHash{
		Algorithm: "argon2id",
		Params:    p,
		Salt:      make([]byte, saltLen),
		Hash:      make([]byte, p.KeyLen),
	}
}
