package token

import (
	"context"
	"errors"
	"testing"

	"github.com/arca-secrets/arca/internal/clocktest"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/inmem"
)

// What Alongside stages lands with the token; when it fails, or stages
// on another backend, no token is stored.
func TestCreateAlongside(t *testing.T) {
	ctx := context.Background()
	raw := inmem.New()
	s, err := Open(ctx, Config{Storage: storage.NewView(raw, "sys/token/"), Now: clocktest.New().Now})
	if err != nil {
		t.Fatal(err)
	}
	leases := storage.NewView(raw, "sys/expire/")
	stageLease := func(e *Entry) (*storage.Step, error) {
		step := &storage.Step{}
		return step, step.Stage(leases, []*storage.Entry{{Key: "tok/" + e.Accessor, Value: []byte(e.Accessor)}}, nil)
	}
	e, err := s.Create(ctx, CreateRequest{Policies: []string{"default"}, Alongside: stageLease})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := leases.Get(ctx, "tok/"+e.Accessor); err != nil || got == nil {
		t.Fatalf("the staged lease was not written with the token: %v %v", got, err)
	}
	if _, err := s.Lookup(ctx, e.ID); err != nil {
		t.Fatalf("the token was not written with its lease: %v", err)
	}

	var created *Entry
	boom := errors.New("no lease")
	_, err = s.Create(ctx, CreateRequest{Policies: []string{"default"}, Alongside: func(e *Entry) (*storage.Step, error) {
		created = e
		return nil, boom
	}})
	if !errors.Is(err, boom) {
		t.Fatalf("a failing Alongside: %v, want its error", err)
	}
	if _, err := s.Lookup(ctx, created.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("a token whose lease failed was stored: %v", err)
	}

	elsewhere := storage.NewView(inmem.New(), "sys/expire/")
	_, err = s.Create(ctx, CreateRequest{Policies: []string{"default"}, Alongside: func(e *Entry) (*storage.Step, error) {
		created = e
		step := &storage.Step{}
		return step, step.Stage(elsewhere, []*storage.Entry{{Key: "tok/" + e.Accessor, Value: []byte("x")}}, nil)
	}})
	if !errors.Is(err, storage.ErrOtherBackend) {
		t.Fatalf("a lease staged on another backend: %v, want ErrOtherBackend", err)
	}
	if _, err := s.Lookup(ctx, created.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("a token whose lease could not be staged was stored: %v", err)
	}
}
