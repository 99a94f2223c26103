package raft

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	hclog "github.com/hashicorp/go-hclog"
	hraft "github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// logStore is where a node keeps its Raft log and its stable state (term,
// vote): every write waits for an append to it on a quorum of nodes.
type logStore interface {
	hraft.LogStore
	hraft.StableStore
	io.Closer
}

// boltLogFile is the log of a node made before the write-ahead log.
const boltLogFile = "raft.db"

// walDir holds the write-ahead log's segment files.
const walDir = "wal"

// logCacheSize is how many of the newest entries are kept in memory: the
// leader reads each entry back to send it to every follower, and a
// follower that is not far behind is sent entries from memory, not disk.
const logCacheSize = 512

// openLogStore opens the node's log in dir. A new node keeps it in a
// write-ahead log of segment files (raft-wal): an append is one write and
// one fsync, where bbolt's commit is two (pages, then meta) and rewrites
// the B-tree's pages besides, and the appends on the leader and on a
// follower are what every write waits for. A node whose directory already
// holds a bbolt log (made by an earlier version) keeps it: a log cannot
// change format under a running cluster.
func openLogStore(dir string, logger hclog.Logger) (logStore, hraft.LogStore, error) {
	var store logStore
	_, err := os.Stat(filepath.Join(dir, boltLogFile))
	switch {
	case err == nil:
		store, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, boltLogFile)})
	case errors.Is(err, fs.ErrNotExist):
		if err = os.MkdirAll(filepath.Join(dir, walDir), 0o700); err == nil {
			meta := &metadb.BoltMetaDB{}
			var w *wal.WAL
			if w, err = wal.Open(filepath.Join(dir, walDir), wal.WithMetaStore(meta), wal.WithLogger(logger.Named("wal"))); err == nil {
				store = walStore{w, meta}
			}
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("raft storage: opening the log: %w", err)
	}
	cached, err := hraft.NewLogCache(logCacheSize, store)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return store, cached, nil
}

// walStore closes the write-ahead log's metadata file with the log, which
// WAL.Close leaves open (and locked: the node could not open its
// directory again in this process).
type walStore struct {
	*wal.WAL
	meta *metadb.BoltMetaDB
}

func (s walStore) Close() error {
	return errors.Join(s.WAL.Close(), s.meta.Close())
}

// LastLogIndex is the index of the last entry in the log of the stopped
// node whose directory is dir: what it was sent, whether or not applied.
func LastLogIndex(dir string) (uint64, error) {
	store, _, err := openLogStore(dir, hclog.NewNullLogger())
	if err != nil {
		return 0, err
	}
	defer store.Close()
	return store.LastIndex()
}
