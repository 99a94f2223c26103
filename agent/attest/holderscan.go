package attest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// The holder scan reads every process's descriptors, and finds every
// socket's holders as cheaply as one socket's. Connections that need it
// at once (a client opening its pool, or every connection after the pid
// tracker lost track: newpids.go) share one: a request is answered by
// the first scan that started after the request arrived, never by one
// that started before, which may predate a change the request must see.

// scan is one holder scan: the newest pid and the tracker's epoch read
// before it (processes created after it have newer pids), and the
// processes holding each socket, by inode.
type scan struct {
	started uint64 // ticket
	last    int
	epoch   uint64
	byIno   map[uint64][]int
	err     error
}

// scansRun counts the holder scans made (tests and benchmarks).
var scansRun atomic.Uint64

var scans = struct {
	mu      sync.Mutex
	cond    sync.Cond
	running bool
	done    *scan
}{}

func init() { scans.cond.L = &scans.mu }

// scanSince returns a scan of every process that started after arrived
// (a ticket).
func scanSince(arrived uint64) *scan {
	scans.mu.Lock()
	defer scans.mu.Unlock()
	for {
		switch {
		case scans.done != nil && scans.done.started > arrived:
			return scans.done
		case !scans.running:
			scans.running = true
			s := &scan{started: tickets.Add(1)}
			scansRun.Add(1)
			scans.mu.Unlock()
			s.last, s.epoch, s.err = newPIDs.sample(s.started)
			if s.err == nil {
				s.byIno, s.err = scanAll()
			}
			scans.mu.Lock()
			scans.running = false
			scans.done = s
			scans.cond.Broadcast()
		default:
			scans.cond.Wait()
		}
	}
}

// holders lists the processes that hold the socket with inode ino open,
// from a scan started now (benchmarks).
func holders(ino uint64) ([]int, error) {
	s := scanSince(tickets.Add(1))
	return s.byIno[ino], s.err
}

// scanAll lists, for every socket open in any process, the processes
// that hold it. A process whose descriptors cannot be read makes the
// answer unsure, which is an error: the caller must refuse.
//
// It reads directories and links with raw syscalls into reused buffers.
// Links are read, not followed: a stat would reach the file behind each
// descriptor and could hang on a dead network filesystem.
func scanAll() (map[uint64][]int, error) {
	procFD, err := unix.Open("/proc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(procFD)
	out := map[uint64][]int{}
	procBuf := make([]byte, 32<<10)
	fdBuf := make([]byte, 32<<10)
	link := make([]byte, 64)
	err = eachDirent(procFD, procBuf, func(name []byte) error {
		pid, err := strconv.Atoi(string(name))
		if err != nil {
			return nil // not a process
		}
		err = eachSocket(procFD, name, fdBuf, link, func(ino uint64) {
			if held := out[ino]; len(held) == 0 || held[len(held)-1] != pid {
				out[ino] = append(held, pid)
			}
		})
		switch {
		case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH):
			return nil // exited meanwhile
		case err != nil:
			return fmt.Errorf("cannot see the open files of pid %d (%v); the agent must run as root", pid, err)
		}
		return nil
	})
	return out, err
}

var socketLink = []byte("socket:[")

// eachSocket calls f with the inode of every socket /proc/<pid>/fd has
// open.
func eachSocket(procFD int, pid, buf, link []byte, f func(ino uint64)) error {
	dir, err := unix.Openat(procFD, string(pid)+"/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	return eachDirent(dir, buf, func(name []byte) error {
		if name[0] == '.' {
			return nil
		}
		n, err := unix.Readlinkat(dir, string(name), link)
		if err != nil || n >= len(link) || !bytes.HasPrefix(link[:n], socketLink) || link[n-1] != ']' {
			return nil
		}
		if ino, err := strconv.ParseUint(string(link[len(socketLink):n-1]), 10, 64); err == nil {
			f(ino)
		}
		return nil
	})
}
