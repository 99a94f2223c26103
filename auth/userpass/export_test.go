package userpass

import "github.com/arca-secrets/arca/logical"

// NewCheap is Factory with argon2id costs low enough for fast tests; the
// costs are stored with each hash, so tests can also raise them.
func NewCheap(conf logical.MountConfig, memoryKiB uint32) logical.Engine {
	p := defaultParams
	p.Memory, p.Threads = memoryKiB, 1
	return newEngine(conf, p)
}

// DefaultMemoryKiB is the production argon2id memory cost.
const DefaultMemoryKiB = 19 * 1024
