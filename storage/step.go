package storage

import (
	"context"
	"errors"
)

// ErrOtherBackend: a Step was given writes for views of two different
// backends, which no single durable step can cover.
var ErrOtherBackend = errors.New("storage: a step spans one backend")

// Step gathers writes made through several views of one backend so that
// they land in one durable step (one WriteAll: one transaction and one
// fsync on bbolt), all or none. A login's token and its lease are such a
// pair: written apart, they cost two commits and a crash between them
// leaves a token that no lease can revoke by prefix.
type Step struct {
	root    Backend
	puts    []*Entry
	deletes []string
}

// Stage adds puts and deletes, named as b names them, to s. b is a View
// (or views over views) of the backend s writes to, or that backend.
func (s *Step) Stage(b Backend, puts []*Entry, deletes []string) error {
	prefix := ""
	for {
		v, ok := b.(*View)
		if !ok {
			break
		}
		prefix = v.prefix + prefix
		b = v.backend
	}
	if s.root == nil {
		s.root = b
	} else if s.root != b {
		return ErrOtherBackend
	}
	for _, e := range puts {
		if !ValidKey(e.Key) {
			return ErrInvalidKey
		}
		s.puts = append(s.puts, &Entry{Key: prefix + e.Key, Value: e.Value})
	}
	for _, k := range deletes {
		if !ValidKey(k) {
			return ErrInvalidKey
		}
		s.deletes = append(s.deletes, prefix+k)
	}
	return nil
}

// Commit writes everything staged in one step; an empty step writes
// nothing.
func (s *Step) Commit(ctx context.Context) error {
	if len(s.puts) == 0 && len(s.deletes) == 0 {
		return nil
	}
	return WriteAll(ctx, s.root, s.puts, s.deletes)
}
