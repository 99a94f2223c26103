package barrier

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/arca-secrets/arca/secmem"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/inmem"
)

var update = flag.Bool("update", false, "rewrite testdata/format-v1.json")

// katFile pins the on-disk format: a keyring and an entry sealed by an
// earlier build must still open, so existing data survives upgrades.
type katFile struct {
	RootKey   []byte `json:"root_key"`
	Keyring   []byte `json:"keyring"`
	EntryKey  string `json:"entry_key"`
	Entry     []byte `json:"entry"`
	Plaintext string `json:"plaintext"`
}

func TestKnownAnswerFormatV1(t *testing.T) {
	path := filepath.Join("testdata", "format-v1.json")
	ctx := context.Background()
	if *update {
		b, raw := newUnsealed(t)
		if err := b.Put(ctx, &storage.Entry{Key: "app/secret", Value: []byte("pinned plaintext")}); err != nil {
			t.Fatal(err)
		}
		kr, _ := raw.Get(ctx, KeyringPath)
		e, _ := raw.Get(ctx, "app/secret")
		out, _ := json.MarshalIndent(katFile{RootKey: rootKey(7), Keyring: kr.Value, EntryKey: "app/secret", Entry: e.Value, Plaintext: "pinned plaintext"}, "", "  ")
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var kat katFile
	if err := json.Unmarshal(raw, &kat); err != nil {
		t.Fatal(err)
	}
	backend := inmem.New()
	_ = backend.Put(ctx, &storage.Entry{Key: KeyringPath, Value: kat.Keyring})
	_ = backend.Put(ctx, &storage.Entry{Key: kat.EntryKey, Value: kat.Entry})
	b := New(Config{Backend: backend, Memory: secmem.BestEffort})
	if err := b.Unseal(ctx, kat.RootKey); err != nil {
		t.Fatalf("the pinned keyring no longer opens: %v", err)
	}
	defer b.Seal()
	e, err := b.Get(ctx, kat.EntryKey)
	if err != nil || string(e.Value) != kat.Plaintext {
		t.Fatalf("the pinned entry no longer opens: %+v, %v", e, err)
	}
}
