// Package atomicfile replaces a file's content so that a reader sees the
// old file or the new one, never a part: the agent's rendered templates.
package atomicfile

import (
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Write writes content to path, unless the file already holds
// exactly it: into a new file in the same directory, owned and moded as
// asked, synced, then renamed over path. A reader sees the old file or
// the new one, never a part. uid or gid -1 leaves it as created.
//
// The directory is not synced after the rename: a crash before the
// rename reaches the disk leaves the old file, whole (the new one's data
// was synced first, so never an empty file), and the agent renders every
// template again when it starts. Syncing it too cost every render a
// second flush to the disk. changed says whether the file was replaced.
//
// It calls the system directly rather than through os.File: a render
// that an event brought is mostly this function's system calls, and
// os.File adds five to each file it opens (registering it with the
// poller, which refuses regular files, and restoring its blocking mode),
// twelve in all here, on machines where each costs a switch to the
// hypervisor. What is left is open, fstat, read and close to compare;
// open, chmod, write, fsync, close and rename to replace.
func Write(path string, content []byte, perm os.FileMode, uid, gid int) (changed bool, err error) {
	if holds(path, content) {
		return false, nil
	}
	dir := filepath.Dir(path)
	tmp, fd, err := createTemp(dir, filepath.Base(path))
	if errors.Is(err, unix.ENOENT) {
		if err = os.MkdirAll(dir, 0o755); err == nil {
			tmp, fd, err = createTemp(dir, filepath.Base(path))
		}
	}
	if err != nil {
		return false, &os.PathError{Op: "create", Path: dir, Err: err}
	}
	if err = fillTemp(fd, content, perm, uid, gid); err == nil {
		err = unix.Rename(tmp, path)
	}
	if err != nil {
		unix.Unlink(tmp)
		return false, &os.PathError{Op: "write", Path: path, Err: err}
	}
	return true, nil
}

// holds reports whether path is a regular file whose bytes are exactly
// content. What it read is wiped: it is the secret the file holds. It
// opens without blocking, so a FIFO put in the file's place cannot hang
// the agent until someone writes to it.
func holds(path string, content []byte) bool {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != int64(len(content)) {
		return false
	}
	old := make([]byte, len(content))
	defer clear(old)
	for n := 0; n < len(old); {
		m, err := unix.Read(fd, old[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || m <= 0 {
			return false
		}
		n += m
	}
	return subtle.ConstantTimeCompare(old, content) == 1
}

// createTemp creates a new file, readable by its owner alone until
// fillTemp sets its mode, beside the destination base in dir.
func createTemp(dir, base string) (string, int, error) {
	for range 10 {
		var suffix [8]byte
		for i := range suffix {
			suffix[i] = byte(rand.Uint32())
		}
		name := filepath.Join(dir, "."+base+".arca-"+hex.EncodeToString(suffix[:]))
		fd, err := unix.Open(name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err == unix.EEXIST || err == unix.EINTR {
			continue
		}
		return name, fd, err
	}
	return "", -1, unix.EEXIST
}

// fillTemp gives the new file its owner, mode and content, syncs it and
// closes it.
func fillTemp(fd int, content []byte, perm os.FileMode, uid, gid int) error {
	closed := false
	defer func() {
		if !closed {
			unix.Close(fd)
		}
	}()
	if uid >= 0 || gid >= 0 {
		if err := unix.Fchown(fd, uid, gid); err != nil {
			return err
		}
	}
	if err := unix.Fchmod(fd, uint32(perm.Perm())); err != nil {
		return err
	}
	for n := 0; n < len(content); {
		m, err := unix.Write(fd, content[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if m <= 0 {
			return io.ErrShortWrite
		}
		n += m
	}
	if err := unix.Fsync(fd); err != nil {
		return err
	}
	closed = true
	return unix.Close(fd)
}
