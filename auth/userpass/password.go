package userpass

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// passwordHash is an argon2id hash with its salt and parameters, so that
// the parameters can be raised later without breaking stored users.
type passwordHash struct {
	Salt    []byte `json:"salt"`
	Hash    []byte `json:"hash"`
	Time    uint32 `json:"t"`
	Memory  uint32 `json:"m"` // KiB
	Threads uint8  `json:"p"`
}

// Parameters for new hashes: OWASP's argon2id minimum (19 MiB, 2 passes).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

func hashPassword(password string) (*passwordHash, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("generating salt: %w", err)
	}
	return &passwordHash{
		Salt: salt, Time: argonTime, Memory: argonMemory, Threads: argonThreads,
		Hash: argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen),
	}, nil
}

func (h *passwordHash) matches(password string) bool {
	if h == nil || h.Time == 0 || h.Memory == 0 || h.Threads == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), h.Salt, h.Time, h.Memory, h.Threads, uint32(len(h.Hash)))
	return subtle.ConstantTimeCompare(got, h.Hash) == 1
}

// dummyHash is compared against when the user does not exist, so that a
// login for an unknown user costs the same as a wrong password and does
// not reveal which users exist.
var dummyHash = func() *passwordHash {
	h, err := hashPassword("arca-userpass-dummy")
	if err != nil {
		panic(err)
	}
	return h
}()
