// Package tally keeps a count of stored things (tokens, leases) in
// memory, so that a metrics scrape reads a number instead of scanning
// storage. The count is taken once, by a scan, when it is first asked
// for; from then on the code that stores and removes the things keeps it.
package tally

import "sync"

// Count is one such count; the zero value is not yet counted.
type Count struct {
	mu    sync.Mutex
	known bool
	n     int64
}

// Add changes the count by d (a thing stored: +1; n removed: -n). Before
// the first Get there is nothing to change: the scan will see the store.
func (c *Count) Add(d int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.known {
		c.n += d
	}
}

// Get returns the count, scanning with scan the first time. Changes wait
// for the scan, so none is counted twice or missed.
func (c *Count) Get(scan func() (int64, error)) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.known {
		n, err := scan()
		if err != nil {
			return 0, err
		}
		c.n, c.known = n, true
	}
	return c.n, nil
}
