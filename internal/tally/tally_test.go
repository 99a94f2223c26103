package tally

import (
	"errors"
	"sync"
	"testing"
)

// Changes before the first Get are left to the scan; after it they count;
// a failed scan leaves the count unknown and is tried again.
func TestCount(t *testing.T) {
	var c Count
	stored := int64(0)
	c.Add(5) // the scan sees these
	stored = 5
	scans := 0
	scan := func() (int64, error) { scans++; return stored, nil }
	if _, err := (&Count{}).Get(func() (int64, error) { return 0, errors.New("storage down") }); err == nil {
		t.Fatal("a failed scan gave a count")
	}
	if n, err := c.Get(scan); err != nil || n != 5 {
		t.Fatalf("first get: %d, %v; want 5", n, err)
	}
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() { defer wg.Done(); c.Add(1) }()
	}
	wg.Wait()
	c.Add(-30)
	if n, _ := c.Get(scan); n != 75 || scans != 1 {
		t.Fatalf("got %d after %d scans, want 75 after 1", n, scans)
	}
}
