// Package stripe locks by key without a lock per key: keys hash onto a
// fixed set of mutexes, so changes to different keys mostly run side by
// side while changes to one key are serialised.
package stripe

import (
	"hash/fnv"
	"sync"
)

// Locks is a set of striped mutexes; the zero value is ready.
type Locks struct{ mu [64]sync.Mutex }

// Lock takes key's mutex and returns its release.
func (l *Locks) Lock(key string) (unlock func()) {
	mu := l.of(key)
	mu.Lock()
	return mu.Unlock
}

func (l *Locks) of(key string) *sync.Mutex { return &l.mu[l.index(key)] }

func (l *Locks) index(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(len(l.mu)))
}

// LockMany takes the mutexes of every key, each once and in a fixed order
// (so two callers never wait on each other crosswise), and returns their
// release. A caller must hold none of the set's mutexes when it calls.
func (l *Locks) LockMany(keys []string) (unlock func()) {
	var take [len(Locks{}.mu)]bool
	for _, k := range keys {
		take[l.index(k)] = true
	}
	for i := range take {
		if take[i] {
			l.mu[i].Lock()
		}
	}
	return func() {
		for i := range take {
			if take[i] {
				l.mu[i].Unlock()
			}
		}
	}
}
