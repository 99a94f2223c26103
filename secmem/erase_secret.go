//go:build goexperiment.runtimesecret && linux && (amd64 || arm64)

package secmem

import (
	"net"
	"runtime/secret"
)

// Erasing reports whether Do erases what its function leaves behind.
const Erasing = true

// Do runs f; its registers and stack are erased when it returns, and its
// heap allocations once the garbage collector finds them unreachable.
func Do(f func()) { secret.Do(f) }

// Outside runs f on a goroutine of its own, outside any Do, and waits for
// it. A call into C (cgo) from inside Do crashes the process (Go 1.26:
// the C code runs on the erased stack's thread without the runtime's
// signal handling in place), so cgo calls a request may reach, the
// PKCS#11 seal's and user lookups, go through Outside; what they allocate
// is not erased, so they must not return secrets the caller does not
// clear itself.
func Outside(f func()) {
	if !secret.Enabled() {
		f()
		return
	}
	var p any
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { p = recover() }()
		f()
	}()
	<-done
	if p != nil {
		panic(p)
	}
}

func init() {
	// The cgo resolver would be a call into C from inside Do: use Go's,
	// which reads the same /etc/hosts and resolv.conf.
	net.DefaultResolver.PreferGo = true
}
