package agent

import (
	"runtime"
	"sync"
	"time"
)

// collectDelay bounds how long answers dropped on a change event stay in
// the heap before a collection overwrites them (secmem.ClobberFreed).
const collectDelay = 250 * time.Millisecond

// collector runs one collection soon after cached answers were dropped,
// for all the drops of a burst of events: not at once, where it took the
// CPU from the re-render the same event started, and not once per event,
// which cost a full collection per change.
type collector struct {
	// delay is collectDelay when 0; after (time.AfterFunc) and run
	// (runtime.GC) are replaced by tests.
	delay time.Duration
	after func(time.Duration, func())
	run   func()

	mu      sync.Mutex
	pending bool
}

// soon makes sure a collection starts within delay from now.
func (c *collector) soon() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending {
		return // the one already due starts after this drop: it frees it too
	}
	c.pending = true
	after, run, delay := c.after, c.run, c.delay
	if after == nil {
		after = func(d time.Duration, f func()) { time.AfterFunc(d, f) }
	}
	if run == nil {
		run = runtime.GC
	}
	if delay == 0 {
		delay = collectDelay
	}
	after(delay, func() {
		// Cleared before the collection starts: a drop made while it
		// runs may escape it, and asks for the next one.
		c.mu.Lock()
		c.pending = false
		c.mu.Unlock()
		run()
	})
}
