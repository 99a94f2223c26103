package password

import (
	"context"
	"errors"
	"testing"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage/inmem"
)

func TestStore(t *testing.T) {
	ctx := context.Background()
	s := NewStore(inmem.New())
	const text = "length = 24\nrule \"charset\" {\n  charset = \"abc123\"\n  min-chars = 2\n}\n"
	if err := s.Write(ctx, "short", text); err != nil {
		t.Fatal(err)
	}
	pw, err := s.Generate(ctx, "short")
	if err != nil || len(pw) != 24 {
		t.Fatalf("generated %q, %v; want 24 characters", pw, err)
	}
	if got, ok, err := s.Read(ctx, "short"); err != nil || !ok || got != text {
		t.Fatalf("read back %q, %v, %v", got, ok, err)
	}
	for name, tc := range map[string]struct{ name, text string }{
		"bad name":      {"../x", text},
		"empty name":    {"", text},
		"unparsable":    {"bad", "length = \"many\""},
		"unsatisfiable": {"bad", "length = 1\nrule \"charset\" {\n  charset = \"a\"\n  min-chars = 2\n}\n"},
	} {
		if err := s.Write(ctx, tc.name, tc.text); !errors.Is(err, logical.ErrInvalidRequest) {
			t.Errorf("%s: %v, want an invalid request", name, err)
		}
	}
	if _, err := s.Generate(ctx, "missing"); !errors.Is(err, logical.ErrInvalidRequest) {
		t.Fatalf("generating from a missing policy: %v", err)
	}
	if names, err := s.Names(ctx); err != nil || len(names) != 1 || names[0] != "short" {
		t.Fatalf("names %v, %v; want [short] (refused writes store nothing)", names, err)
	}
	if err := s.Delete(ctx, "short"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Read(ctx, "short"); ok {
		t.Fatal("read after delete found the policy")
	}
}
