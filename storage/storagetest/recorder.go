package storagetest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arca-secrets/arca/storage"
)

// Recorder wraps a backend for tests of how code uses storage: it counts
// storage steps (each Put, Delete and WriteAll is one; a WriteAll is one
// step whatever the backend does with it) and, after Hold, holds every
// write until Release, so a test can see how many writes run at once.
type Recorder struct {
	storage.Backend
	steps atomic.Int64

	mu   sync.Mutex
	cond *sync.Cond
	held int
	gate chan struct{} // nil: writes go through at once
}

var _ storage.Batcher = (*Recorder)(nil)

// NewRecorder wraps b.
func NewRecorder(b storage.Backend) *Recorder {
	r := &Recorder{Backend: b}
	r.cond = sync.NewCond(&r.mu)
	return r
}

// Steps is the number of storage steps since the last ResetSteps.
func (r *Recorder) Steps() int64 { return r.steps.Load() }

// ResetSteps starts counting again.
func (r *Recorder) ResetSteps() { r.steps.Store(0) }

// Hold makes every write wait until Release.
func (r *Recorder) Hold() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gate = make(chan struct{})
}

// Release lets the held writes, and all later ones, through.
func (r *Recorder) Release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gate != nil {
		close(r.gate)
		r.gate = nil
	}
}

// WaitHeld waits until n writes are held at once, or timeout passes, and
// says whether they were.
func (r *Recorder) WaitHeld(n int, timeout time.Duration) bool {
	expired := false
	t := time.AfterFunc(timeout, func() {
		r.mu.Lock()
		expired = true
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	defer t.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.held < n && !expired {
		r.cond.Wait()
	}
	return r.held >= n
}

// step counts one step and, while holding, waits at the gate.
func (r *Recorder) step() {
	r.steps.Add(1)
	r.mu.Lock()
	gate := r.gate
	if gate != nil {
		r.held++
		r.cond.Broadcast()
	}
	r.mu.Unlock()
	if gate != nil {
		<-gate
		r.mu.Lock()
		r.held--
		r.mu.Unlock()
	}
}

func (r *Recorder) Put(ctx context.Context, e *storage.Entry) error {
	r.step()
	return r.Backend.Put(ctx, e)
}

func (r *Recorder) Delete(ctx context.Context, key string) error {
	r.step()
	return r.Backend.Delete(ctx, key)
}

func (r *Recorder) WriteAll(ctx context.Context, puts []*storage.Entry, deletes []string) error {
	r.step()
	return storage.WriteAll(ctx, r.Backend, puts, deletes)
}
