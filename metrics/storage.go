package metrics

import (
	"context"
	"time"

	"github.com/arca-secrets/arca/storage"
)

// Storage times every operation of a storage backend.
type Storage struct {
	storage.Backend
	r *Registry
}

var (
	_ storage.Backend = (*Storage)(nil)
	_ storage.Batcher = (*Storage)(nil)
)

// Instrument returns b with every operation timed. Batched writes stay
// batched when b batches.
func (r *Registry) Instrument(b storage.Backend) *Storage {
	return &Storage{Backend: b, r: r}
}

func (s *Storage) observe(op string, start time.Time) {
	s.r.storage.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

func (s *Storage) Get(ctx context.Context, key string) (*storage.Entry, error) {
	defer s.observe("get", time.Now())
	return s.Backend.Get(ctx, key)
}

func (s *Storage) Put(ctx context.Context, e *storage.Entry) error {
	defer s.observe("put", time.Now())
	s.r.batch.Observe(1)
	return s.Backend.Put(ctx, e)
}

func (s *Storage) Delete(ctx context.Context, key string) error {
	defer s.observe("delete", time.Now())
	s.r.batch.Observe(1)
	return s.Backend.Delete(ctx, key)
}

func (s *Storage) List(ctx context.Context, prefix string) ([]string, error) {
	defer s.observe("list", time.Now())
	return s.Backend.List(ctx, prefix)
}

// WriteAll writes in one step where the backend can.
func (s *Storage) WriteAll(ctx context.Context, puts []*storage.Entry, deletes []string) error {
	defer s.observe("write_all", time.Now())
	s.r.batch.Observe(float64(len(puts) + len(deletes)))
	return storage.WriteAll(ctx, s.Backend, puts, deletes)
}
