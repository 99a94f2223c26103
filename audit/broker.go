package audit

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// device is an enabled device with its salt, options and chain state.
type device struct {
	name string
	dev  Device
	salt *Salt
	opts Options
	mu   sync.Mutex // serialises lines, so the chain has one order
	last string
}

// Broker fans entries out to the enabled devices.
type Broker struct {
	now     func() time.Time
	mu      sync.RWMutex
	devices map[string]*device
}

// NewBroker returns a broker with no devices; now is the clock (time.Now
// when nil).
func NewBroker(now func() time.Time) *Broker {
	if now == nil {
		now = time.Now
	}
	return &Broker{now: now, devices: map[string]*device{}}
}

// Enable adds a device under name.
func (b *Broker) Enable(name string, d Device, salt *Salt, opts Options) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.devices[name]; ok {
		return fmt.Errorf("an audit device named %q is already enabled", name)
	}
	dv := &device{name: name, dev: d, salt: salt, opts: opts}
	if c, ok := d.(Chained); ok {
		dv.last = c.LastHash()
	}
	b.devices[name] = dv
	return nil
}

// Disable removes and closes the device named name.
func (b *Broker) Disable(name string) error {
	b.mu.Lock()
	dv, ok := b.devices[name]
	delete(b.devices, name)
	b.mu.Unlock()
	if !ok {
		return nil
	}
	return dv.dev.Close()
}

// Names lists the enabled devices.
func (b *Broker) Names() []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]string, 0, len(b.devices))
	for n := range b.devices {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Hash computes what device name writes for input.
func (b *Broker) Hash(name, input string) (string, error) {
	b.mu.RLock()
	dv, ok := b.devices[name]
	b.mu.RUnlock()
	if !ok {
		return "", fmt.Errorf("no audit device named %q", name)
	}
	return dv.salt.Hash(input), nil
}

// Reopen reopens every device (SIGHUP, for log rotation).
func (b *Broker) Reopen() error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var errs []error
	for _, dv := range b.devices {
		dv.mu.Lock()
		if err := dv.dev.Reopen(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", dv.name, err))
		}
		dv.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Close closes every device.
func (b *Broker) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for n, dv := range b.devices {
		_ = dv.dev.Close()
		delete(b.devices, n)
	}
}

// LogRequest records a request before it is served.
func (b *Broker) LogRequest(ctx context.Context, a *Auth, r *Request, errText string) error {
	return b.log("request", a, r, nil, errText)
}

// LogResponse records a response before it is sent.
func (b *Broker) LogResponse(ctx context.Context, a *Auth, r *Request, resp *Response, errText string) error {
	return b.log("response", a, r, resp, errText)
}

// log writes the entry to every device. With no devices it records
// nothing and succeeds; with devices, at least one must record it.
func (b *Broker) log(kind string, a *Auth, r *Request, resp *Response, errText string) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if len(b.devices) == 0 {
		return nil
	}
	now := b.now()
	var errs []error
	ok := 0
	for _, dv := range b.devices {
		if err := dv.write(kind, now, a, r, resp, errText); err != nil {
			errs = append(errs, fmt.Errorf("device %q: %w", dv.name, err))
			continue
		}
		ok++
	}
	if ok == 0 {
		return fmt.Errorf("%w: %w", ErrNotRecorded, errors.Join(errs...))
	}
	return nil
}

func (dv *device) write(kind string, now time.Time, a *Auth, r *Request, resp *Response, errText string) error {
	entry := format(kind, now, dv.salt, dv.opts, a, r, resp, errText)
	dv.mu.Lock()
	defer dv.mu.Unlock()
	line, h, err := chainLine(entry, dv.last)
	if err != nil {
		return err
	}
	if dv.opts.Prefix != "" {
		line = append([]byte(dv.opts.Prefix), line...)
	}
	if err := dv.dev.Write(line); err != nil {
		return err
	}
	dv.last = h
	return nil
}
