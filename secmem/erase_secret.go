//go:build goexperiment.runtimesecret && linux && (amd64 || arm64)

package secmem

import "runtime/secret"

// Erasing reports whether Do erases what its function leaves behind.
const Erasing = true

// Do runs f; its registers and stack are erased when it returns, and its
// heap allocations once the garbage collector finds them unreachable.
func Do(f func()) { secret.Do(f) }
