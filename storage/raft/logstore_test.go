package raft

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/arca-secrets/arca/storage"
)

// A new node keeps its log in the write-ahead log; a node whose directory
// holds a bbolt log from an earlier version keeps that one. Either way
// the writes come back after a restart from the log alone (no snapshot
// was taken), so the log is where they were kept.
func TestLogStoreKeepsWritesAcrossRestart(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing bool // a bbolt log is in the directory before the node opens
	}{
		{name: "new node: write-ahead log"},
		{name: "node with a bbolt log", existing: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, addr := t.TempDir(), freeAddr(t)
			if tc.existing {
				old, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, boltLogFile)})
				if err != nil {
					t.Fatal(err)
				}
				if err := old.Close(); err != nil {
					t.Fatal(err)
				}
			}
			n := openNode(t, dir, "n1", addr, nil)
			if err := n.Bootstrap(nil); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "leadership", n.IsLeader)
			ctx := context.Background()
			for i := range 50 {
				if err := n.Put(ctx, &storage.Entry{Key: fmt.Sprintf("k/%d", i), Value: []byte{byte(i)}}); err != nil {
					t.Fatal(err)
				}
			}
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}
			_, walErr := os.Stat(filepath.Join(dir, walDir))
			boltInfo, boltErr := os.Stat(filepath.Join(dir, boltLogFile))
			switch {
			case tc.existing && walErr == nil:
				t.Fatal("a node with a bbolt log started a write-ahead log beside it")
			case tc.existing && (boltErr != nil || boltInfo.Size() == 0):
				t.Fatalf("the bbolt log is gone: %v", boltErr)
			case !tc.existing && walErr != nil:
				t.Fatalf("a new node has no write-ahead log: %v", walErr)
			case !tc.existing && boltErr == nil:
				t.Fatal("a new node made a bbolt log")
			}
			n = openNode(t, dir, "n1", addr, nil)
			defer n.Close()
			waitFor(t, "leadership after restart", n.IsLeader)
			waitFor(t, "every write back", func() bool {
				for i := range 50 {
					e, err := n.Get(ctx, fmt.Sprintf("k/%d", i))
					if err != nil || e == nil || len(e.Value) != 1 || e.Value[0] != byte(i) {
						return false
					}
				}
				return true
			})
		})
	}
}
