package token

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/arca-secrets/arca/storage"
)

// revokeBatch is how many trees one batch revokes.
const revokeBatch = 32768

// deleteChunk is how many keys one storage step deletes (one transaction
// and one fsync on bbolt).
const deleteChunk = 4 * revokeBatch

// treeNode is one token of a tree being revoked.
type treeNode struct {
	acc    string
	parent int // index of the parent node; -1 for a tree's root
	root   int // index in the accessors of the tree it belongs to
	e      *Entry
	keep   bool
}

// revokeTreesLocked revokes the trees under accessors as one batch. It
// collects every token in them, runs BeforeRevoke for all at once, then
// deletes the entries and index keys of all in a few storage steps,
// children before parents, so a crash halfway leaves no child without its
// index, and runs AfterRevoke. A token that cannot be cleaned up stays, and
// so does every token above it: no token outlives its parent. It returns
// one error per accessor.
func (s *Store) revokeTreesLocked(ctx context.Context, accessors []string) []error {
	errs := make([]error, len(accessors))
	nodes := s.collectTrees(ctx, accessors, errs)
	var live []*Entry
	var at []int
	for i := range nodes {
		n := &nodes[i]
		if n.keep {
			continue
		}
		e, err := s.lookupAccessorLocked(ctx, n.acc)
		switch {
		case err == nil:
			n.e = e
			live = append(live, e)
			at = append(at, i)
		case !errors.Is(err, ErrNotFound):
			n.keep = true
			errs[n.root] = errors.Join(errs[n.root], err)
		}
	}
	if s.before != nil && len(live) > 0 {
		for j, err := range s.before(ctx, live) {
			if err != nil && j < len(at) {
				n := &nodes[at[j]]
				n.keep = true
				errs[n.root] = errors.Join(errs[n.root], fmt.Errorf("cleaning up after token: %w", err))
			}
		}
	}
	keepAncestors(nodes)
	gone, err := s.deleteNodes(ctx, nodes)
	if err != nil {
		for i := range errs {
			errs[i] = errors.Join(errs[i], err)
		}
	}
	if s.after != nil && len(gone) > 0 {
		if err := s.after(ctx, gone); err != nil {
			for i := range errs {
				errs[i] = errors.Join(errs[i], err)
			}
		}
	}
	return errs
}

// collectTrees lists every token under accessors, parents before
// children. A tree that cannot be listed whole is kept whole.
func (s *Store) collectTrees(ctx context.Context, accessors []string, errs []error) []treeNode {
	var nodes []treeNode
	seen := map[string]bool{}
	for r, a := range accessors {
		if seen[a] {
			continue
		}
		seen[a] = true
		first := len(nodes)
		nodes = append(nodes, treeNode{acc: a, parent: -1, root: r})
		for i := first; i < len(nodes); i++ {
			children, err := s.view.List(ctx, parentPrefix+nodes[i].acc+"/")
			if err != nil {
				errs[r] = fmt.Errorf("listing child tokens: %w", err)
				for j := first; j < len(nodes); j++ {
					nodes[j].keep = true
				}
				break
			}
			for _, c := range children {
				c = strings.TrimSuffix(c, "/")
				if !seen[c] {
					seen[c] = true
					nodes = append(nodes, treeNode{acc: c, parent: i, root: r})
				}
			}
		}
	}
	return nodes
}

// keepAncestors marks every ancestor of a kept node kept.
func keepAncestors(nodes []treeNode) {
	for i := range nodes {
		if !nodes[i].keep {
			continue
		}
		for p := nodes[i].parent; p >= 0 && !nodes[p].keep; p = nodes[p].parent {
			nodes[p].keep = true
		}
	}
}

// deleteNodes deletes the entry and index keys of every node not kept,
// children first, a chunk of keys per storage step, and returns the
// entries deleted.
func (s *Store) deleteNodes(ctx context.Context, nodes []treeNode) ([]*Entry, error) {
	var keys []string
	var gone, pending []*Entry
	flush := func() error {
		for _, e := range pending {
			s.cache.drop(e.Hash)
		}
		err := storage.WriteAll(ctx, s.view, nil, keys)
		for _, e := range pending {
			s.cache.drop(e.Hash)
		}
		if err != nil {
			return err
		}
		s.count.Add(-int64(len(pending)))
		gone = append(gone, pending...)
		keys, pending = keys[:0], pending[:0]
		return nil
	}
	// Parents come before children in nodes: walking it backwards
	// deletes children first.
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		if n.keep {
			continue
		}
		keys = append(keys, accessorPrefix+n.acc)
		if n.parent >= 0 {
			keys = append(keys, parentPrefix+nodes[n.parent].acc+"/"+n.acc)
		}
		if n.e != nil {
			keys = append(keys, idPrefix+n.e.Hash)
			if n.e.Parent != "" {
				keys = append(keys, parentPrefix+n.e.Parent+"/"+n.acc)
			}
			pending = append(pending, n.e)
		}
		if len(keys) >= deleteChunk {
			if err := flush(); err != nil {
				return gone, err
			}
		}
	}
	if len(keys) == 0 {
		return gone, nil
	}
	return gone, flush()
}
