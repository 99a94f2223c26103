package bolt

import (
	bbolt "go.etcd.io/bbolt"
)

// Group commit. Writes go to one committer goroutine, which applies every
// write waiting at that moment in a single bbolt transaction (one fsync)
// and then acknowledges them all. A lone writer is committed at once, with
// no added delay; under concurrency, the writers that arrive while a
// commit is in progress share the next one.

type writeOp struct {
	pairs  []pair
	result chan error
}

// pair is one write; a nil value deletes the key.
type pair struct{ key, value []byte }

const maxGroup = 1024

func (b *Backend) committer() {
	defer close(b.stopped)
	for first := range b.writes {
		group := []writeOp{first}
	collect:
		for len(group) < maxGroup {
			select {
			case op, ok := <-b.writes:
				if !ok {
					break collect
				}
				group = append(group, op)
			default:
				break collect
			}
		}
		err := b.apply(group)
		for _, op := range group {
			if err != nil && len(group) > 1 {
				// One bad write must not fail the others: retry each alone.
				op.result <- b.apply([]writeOp{op})
				continue
			}
			op.result <- err
		}
	}
}

// apply commits ops in one transaction.
func (b *Backend) apply(ops []writeOp) error {
	return b.db.Update(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bucket)
		for _, op := range ops {
			for _, p := range op.pairs {
				var err error
				if p.value == nil {
					err = bk.Delete(p.key)
				} else {
					err = bk.Put(p.key, p.value)
				}
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// write hands one operation to the committer and waits until it is
// durable (or failed with the whole group).
func (b *Backend) write(pairs ...pair) error {
	op := writeOp{pairs: pairs, result: make(chan error, 1)}
	b.closeMu.RLock()
	if b.closed {
		b.closeMu.RUnlock()
		return errClosed
	}
	b.writes <- op
	b.closeMu.RUnlock()
	return <-op.result
}
