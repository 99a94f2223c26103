package raft

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

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
	if err := n.SaveSnapshot(&saved); err != nil {
		t.Fatal(err)
	}
	good := saved.Bytes()
	headLen := bytes.IndexByte(good, '\n') + 1
	if err := n.Put(ctx, &storage.Entry{Key: "later", Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}

	refuse := func(name string, b []byte) {
		t.Helper()
		if _, err := ReadSnapshot(bytes.NewReader(b)); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("%s: %v, want ErrBadSnapshot", name, err)
		}
	}
	for cut := 0; cut < len(good); cut++ {
		refuse(fmt.Sprintf("cut at byte %d of %d", cut, len(good)), good[:cut])
	}
	for i := headLen; i < len(good); i++ {
		bad := bytes.Clone(good)
		bad[i] ^= 0x01
		refuse(fmt.Sprintf("byte %d flipped", i), bad)
	}
	// A flipped header byte is refused, or changes only metadata that a
	// restore replaces (index, term, membership): never the entries.
	for i := range headLen {
		bad := bytes.Clone(good)
		bad[i] ^= 0x01
		if s, err := ReadSnapshot(bytes.NewReader(bad)); err == nil && !bytes.Equal(s.body, good[headLen:]) {
			t.Fatalf("header byte %d flipped: accepted with other entries", i)
		}
	}
	refuse("bytes after the end", append(bytes.Clone(good), '\n'))
	noSum := bytes.Replace(good, []byte(`"sha256":"`), []byte(`"sha257":"`), 1)
	refuse("no sum", noSum)

	if e, _ := n.Get(ctx, "later"); e == nil {
		t.Fatal("refused restores lost a write")
	}
	s, err := ReadSnapshot(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.RestoreSnapshot(s); err != nil {
		t.Fatal(err)
	}
	if e, _ := n.Get(ctx, "later"); e != nil {
		t.Fatal("a write after the snapshot survived its restore")
	}
	if e, _ := n.Get(ctx, "k/3"); e == nil || !bytes.Equal(e.Value, []byte{3, 0xff, '"'}) {
		t.Fatalf("k/3 after the restore: %v", e)
	}
}
