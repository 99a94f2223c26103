// Package bolt is the embedded default storage backend: one bbolt file, no
// other process. Every acknowledged write has been fsynced; concurrent
// writes are group-committed (commit.go), so they share fsyncs.
package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/arca-secrets/arca/storage"
)

var bucket = []byte("arca")

// ErrLocked: another process has the file open.
var ErrLocked = errors.New("storage file is in use by another process")

// Options tune the backend; the zero value is the default.
type Options struct {
	// LockTimeout is how long Open waits for another process's lock on the
	// file; 1s when zero.
	LockTimeout time.Duration
}

// Backend stores entries in one bucket of a bbolt file.
type Backend struct {
	db      *bbolt.DB
	writes  chan writeOp
	stopped chan struct{}
	closeMu sync.RWMutex
	closed  bool
}

var errClosed = errors.New("storage is closed")

var _ storage.Backend = (*Backend)(nil)

// Open opens or creates the file at path (mode 0600).
func Open(path string, opts Options) (*Backend, error) {
	timeout := opts.LockTimeout
	if timeout == 0 {
		timeout = time.Second
	}
	// The freelist is not written at each commit (it is rebuilt by a scan
	// when the file is opened), which saves a page write per commit; the
	// map freelist keeps allocation cheap as the file grows. Both are what
	// etcd runs with; a 256 MiB initial map (address space, not memory)
	// spares remaps, which stall readers, while the file grows. Durability
	// is unchanged: data and meta pages are still synced before a write is
	// acknowledged.
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType, InitialMmapSize: 256 << 20})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("%s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("preparing %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		_ = os.Chmod(path, 0o600)
	}
	be := &Backend{db: db, writes: make(chan writeOp, maxGroup), stopped: make(chan struct{})}
	go be.committer()
	return be, nil
}

// Close waits for pending writes and closes the file.
func (b *Backend) Close() error {
	b.closeMu.Lock()
	if b.closed {
		b.closeMu.Unlock()
		return nil
	}
	b.closed = true
	close(b.writes)
	b.closeMu.Unlock()
	<-b.stopped
	return b.db.Close()
}

// Get returns a copy of the value at key, or (nil, nil).
func (b *Backend) Get(_ context.Context, key string) (*storage.Entry, error) {
	if !storage.ValidKey(key) {
		return nil, storage.ErrInvalidKey
	}
	var out *storage.Entry
	err := b.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucket).Get([]byte(key)); v != nil {
			out = &storage.Entry{Key: key, Value: bytes.Clone(v)}
		}
		return nil
	})
	return out, err
}

// Put writes entry durably before returning.
func (b *Backend) Put(_ context.Context, entry *storage.Entry) error {
	if !storage.ValidKey(entry.Key) {
		return storage.ErrInvalidKey
	}
	v := bytes.Clone(entry.Value)
	if v == nil {
		v = []byte{}
	}
	return b.write(pair{[]byte(entry.Key), v})
}

// Delete removes key durably; a missing key is not an error.
func (b *Backend) Delete(_ context.Context, key string) error {
	if !storage.ValidKey(key) {
		return storage.ErrInvalidKey
	}
	return b.write(pair{key: []byte(key)})
}

// List returns the sorted names directly under prefix, scanning only the
// keys that start with it.
func (b *Backend) List(_ context.Context, prefix string) ([]string, error) {
	var out []string
	err := b.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		p := []byte(prefix)
		last := ""
		for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); {
			rest := string(k[len(p):])
			if i := bytes.IndexByte(k[len(p):], '/'); i >= 0 {
				folder := rest[:i+1]
				if folder != last {
					out = append(out, folder)
					last = folder
				}
				// Skip everything under the folder: seek past "folder/".
				next := append(append([]byte(nil), p...), folder[:i]...)
				next = append(next, '/'+1)
				k, _ = c.Seek(next)
				continue
			}
			if rest != "" {
				out = append(out, rest)
			}
			k, _ = c.Next()
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

var _ storage.Batcher = (*Backend)(nil)

// WriteAll writes puts and deletes in one transaction: all of them or none.
func (b *Backend) WriteAll(_ context.Context, puts []*storage.Entry, deletes []string) error {
	pairs := make([]pair, 0, len(puts)+len(deletes))
	for _, e := range puts {
		if !storage.ValidKey(e.Key) {
			return storage.ErrInvalidKey
		}
		v := bytes.Clone(e.Value)
		if v == nil {
			v = []byte{}
		}
		pairs = append(pairs, pair{[]byte(e.Key), v})
	}
	for _, k := range deletes {
		if !storage.ValidKey(k) {
			return storage.ErrInvalidKey
		}
		pairs = append(pairs, pair{key: []byte(k)})
	}
	return b.write(pairs...)
}
