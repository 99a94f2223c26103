package pkcs11

import (
	"errors"
	"fmt"
	"sync"

	p11 "github.com/miekg/pkcs11"
)

// A PKCS#11 module may be initialised once per process. Seals on the same
// module (two during a migration, several in tests) share it; the last one
// closed finalises and unloads it.
var modules = struct {
	sync.Mutex
	m map[string]*module
}{m: map[string]*module{}}

type module struct {
	lib  string
	ctx  *p11.Ctx
	refs int
}

// openModule loads and initialises the module at lib, or takes another
// reference to it.
func openModule(lib string) (*module, error) {
	modules.Lock()
	defer modules.Unlock()
	if m := modules.m[lib]; m != nil {
		m.refs++
		return m, nil
	}
	ctx := p11.New(lib)
	if ctx == nil {
		return nil, fmt.Errorf("%w: cannot load the PKCS#11 module %q (missing, or not a PKCS#11 library)", ErrConfig, lib)
	}
	if err := ctx.Initialize(); err != nil && !errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		ctx.Destroy()
		return nil, fmt.Errorf("initialising the PKCS#11 module %q: %w", lib, classify(err))
	}
	m := &module{lib: lib, ctx: ctx, refs: 1}
	modules.m[lib] = m
	return m, nil
}

// release drops a reference; the last finalises the module.
func (m *module) release() {
	modules.Lock()
	defer modules.Unlock()
	m.refs--
	if m.refs > 0 {
		return
	}
	delete(modules.m, m.lib)
	_ = m.ctx.Finalize()
	m.ctx.Destroy()
}

// refresh finalises and initialises the module again, so that a token
// that came back (put back in, an HSM restarted) is seen: many modules,
// SoftHSM2 among them, look for tokens only when initialised. A module
// another seal in the process holds is left alone; refresh reports
// whether it ran.
func (m *module) refresh() bool {
	modules.Lock()
	defer modules.Unlock()
	if m.refs != 1 {
		return false
	}
	_ = m.ctx.Finalize()
	// A failure leaves the module uninitialised: the next operation gets
	// CKR_CRYPTOKI_NOT_INITIALIZED (unavailable) and refreshes again.
	_ = m.ctx.Initialize()
	return true
}
