//go:build !(goexperiment.runtimesecret && linux && (amd64 || arm64))

package secmem

// Erasing reports whether Do erases what its function leaves behind: not
// in this build (see EraseBuildHint).
const Erasing = false

// Do runs f. This build cannot erase what f leaves behind.
func Do(f func()) { f() }

// Outside runs f.
func Outside(f func()) { f() }
