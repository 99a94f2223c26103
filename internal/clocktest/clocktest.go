// Package clocktest is a clock for tests: it reads the same instant until
// the test moves it, so code that takes a clock (a func() time.Time) can be
// tested for expiry, schedules and TTLs without waiting on wall time.
package clocktest

import (
	"sync"
	"time"
)

// Start is where New's clocks begin: a fixed instant, so that tests read
// the same times on every run.
var Start = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// Clock is a clock that moves only when told to. It is safe for
// concurrent use; its zero value reads the zero time.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock reading Start.
func New() *Clock { return At(Start) }

// At returns a clock reading t.
func At(t time.Time) *Clock { return &Clock{now: t} }

// Now reads the clock. Pass the method value (c.Now) where code takes a
// func() time.Time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (back, if d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
