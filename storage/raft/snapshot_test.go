package raft

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"testing"

	hraft "github.com/hashicorp/raft"

	"github.com/arca-secrets/arca/storage"
)

// TestRestoreRefusesDamagedSnapshots: a snapshot cut short anywhere,
// with any one byte of its entries flipped, with bytes after its end or
// without its sum is refused before Raft sees it (Raft would panic on a
// state machine that cannot read it, and keep the damaged snapshot as
// its newest), and the node keeps its data and still restores a good
// snapshot afterwards.
func TestRestoreRefusesDamagedSnapshots(t *testing.T) {
	n := openNode(t, t.TempDir(), "n1", freeAddr(t), nil)
	defer n.Close()
	if err := n.Bootstrap(nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "leadership", n.IsLeader)
	ctx := context.Background()
	for i := range 5 {
		if err := n.Put(ctx, &storage.Entry{Key: fmt.Sprintf("k/%d", i), Value: []byte{byte(i), 0xff, '"'}}); err != nil {
			t.Fatal(err)
		}
	}
	var saved bytes.Buffer
	if err := n.SaveSnapshot(&saved, testSeal); err != nil {
		t.Fatal(err)
	}
	good := saved.Bytes()
	if err := n.Put(ctx, &storage.Entry{Key: "later", Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	want, err := ReadSnapshot(bytes.NewReader(good), 1<<20)
	if err != nil {
		t.Fatal(err)
	}

	refuse := func(name string, b []byte) {
		t.Helper()
		if _, err := ReadSnapshot(bytes.NewReader(b), 1<<20); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("%s: %v, want ErrBadSnapshot", name, err)
		}
	}
	for cut := 0; cut < len(good); cut++ {
		refuse(fmt.Sprintf("cut at byte %d of %d", cut, len(good)), good[:cut])
	}
	// A flipped byte is refused, or was one gzip does not check (its
	// header's time and flags): the same state, sums and seal.
	for i := range good {
		bad := bytes.Clone(good)
		bad[i] ^= 0x01
		if s, err := ReadSnapshot(bytes.NewReader(bad), 1<<20); err == nil &&
			(!bytes.Equal(s.body, want.body) || !bytes.Equal(s.sealed, want.sealed) || s.meta.Index != want.meta.Index) {
			t.Fatalf("byte %d flipped: accepted with other contents", i)
		}
	}
	refuse("bytes after the end", append(bytes.Clone(good), '\n'))
	files := archiveFiles(t, good)
	for _, c := range []struct {
		name  string
		build func(map[string][]byte) []string
	}{
		{"no sealed sums", func(f map[string][]byte) []string { return []string{metaFile, stateFile, sumsFile} }},
		{"no sums", func(f map[string][]byte) []string { return []string{metaFile, stateFile, sealedFile} }},
		{"a file twice", func(f map[string][]byte) []string {
			return []string{metaFile, stateFile, stateFile, sumsFile, sealedFile}
		}},
		{"another file", func(f map[string][]byte) []string {
			f["../x"] = []byte("x")
			return []string{metaFile, stateFile, sumsFile, sealedFile, "../x"}
		}},
	} {
		f := maps.Clone(files)
		refuse(c.name, buildArchive(t, f, c.build(f)))
	}
	// Other entries with their sums redone read well, but the seal, which
	// only the keyring makes, does not open to those sums.
	forged := maps.Clone(files)
	forged[stateFile] = []byte(`[{"key":"planted","value":"eA=="}]`)
	var meta hraft.SnapshotMeta
	if err := json.Unmarshal(forged[metaFile], &meta); err != nil {
		t.Fatal(err)
	}
	meta.Size = int64(len(forged[stateFile]))
	forged[metaFile], _ = json.Marshal(&meta)
	forged[sumsFile] = sumsOf(forged[metaFile], forged[stateFile])
	fs, err := ReadSnapshot(bytes.NewReader(buildArchive(t, forged, []string{metaFile, stateFile, sumsFile, sealedFile})), 1<<20)
	if err != nil || fs.Entry("planted") == nil {
		t.Fatalf("a well-formed forged snapshot: %v", err)
	}
	if fs.SealedBy(testOpen) {
		t.Fatal("a forged snapshot passes for one this cluster sealed")
	}
	// A small file that stands for a huge state.
	f := maps.Clone(files)
	f[stateFile] = bytes.Repeat([]byte{' '}, 4<<20)
	f[sumsFile] = sumsOf(f[metaFile], f[stateFile])
	refuse("a state over the limit", buildArchive(t, f, []string{metaFile, stateFile, sumsFile, sealedFile}))

	if e, _ := n.Get(ctx, "later"); e == nil {
		t.Fatal("refused restores lost a write")
	}
	if !want.SealedBy(testOpen) {
		t.Fatal("the saved snapshot's sums do not open to its sums")
	}
	if err := n.RestoreSnapshot(want); err != nil {
		t.Fatal(err)
	}
	if e, _ := n.Get(ctx, "later"); e != nil {
		t.Fatal("a write after the snapshot survived its restore")
	}
	if e, _ := n.Get(ctx, "k/3"); e == nil || !bytes.Equal(e.Value, []byte{3, 0xff, '"'}) {
		t.Fatalf("k/3 after the restore: %v", e)
	}
}

// testSeal and testOpen stand for the barrier (a prefix, not a cipher:
// this package never sees keys).
func testSeal(sums []byte) ([]byte, error) { return append([]byte("sealed:"), sums...), nil }

func testOpen(sealed []byte) ([]byte, error) {
	if !bytes.HasPrefix(sealed, []byte("sealed:")) {
		return nil, errors.New("not sealed here")
	}
	return sealed[len("sealed:"):], nil
}

// archiveFiles reads the files of a saved snapshot.
func archiveFiles(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name], _ = io.ReadAll(tr)
	}
}

// buildArchive writes the named files of f, in order, as a saved
// snapshot would be.
func buildArchive(t *testing.T, f map[string][]byte, names []string) []byte {
	t.Helper()
	var out bytes.Buffer
	gz := gzip.NewWriter(&out)
	tw := tar.NewWriter(gz)
	for _, name := range names {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(f[name]))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
