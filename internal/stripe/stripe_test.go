package stripe

import (
	"sync"
	"testing"
)

// One key is serialised: concurrent increments under its lock all land.
func TestOneKeyIsSerialised(t *testing.T) {
	var l Locks
	n := 0
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer l.Lock("k")()
			n++
		}()
	}
	wg.Wait()
	if n != 50 {
		t.Fatalf("got %d increments, want 50", n)
	}
}

// Keys spread over the mutexes: one key always has the same one, and a
// handful of keys do not all land on it.
func TestKeysSpread(t *testing.T) {
	var l Locks
	if l.of("k") != l.of("k") {
		t.Fatal("one key got two mutexes")
	}
	seen := map[*sync.Mutex]bool{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		seen[l.of(k)] = true
	}
	if len(seen) < 4 {
		t.Fatalf("8 keys share %d mutexes", len(seen))
	}
}
