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

// LockMany holds every key's mutex: a Lock of one of its keys waits, and
// two LockMany over the same keys listed in opposite orders never
// deadlock (each takes the mutexes in the same fixed order).
func TestLockManyHoldsAllInOneOrder(t *testing.T) {
	var l Locks
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	rev := make([]string, len(keys))
	for i, k := range keys {
		rev[len(keys)-1-i] = k
	}
	n := 0
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			set := keys
			if i%2 == 1 {
				set = rev
			}
			defer l.LockMany(set)()
			n++
		}()
	}
	wg.Wait()
	if n != 100 {
		t.Fatalf("got %d, want 100", n)
	}
	unlock := l.LockMany(keys)
	if l.of("c").TryLock() {
		t.Fatal("a key's mutex was free while LockMany held it")
	}
	unlock()
	if !l.of("c").TryLock() {
		t.Fatal("LockMany's release left a mutex held")
	}
}
