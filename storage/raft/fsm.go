package raft

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	hraft "github.com/hashicorp/raft"

	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/inmem"
)

// command is one replicated write: puts and deletes applied together.
type command struct {
	Puts    []*storage.Entry `json:"puts,omitempty"`
	Deletes []string         `json:"deletes,omitempty"`
}

// fsm applies committed commands to the node's copy of the data. The
// entries it holds are barrier ciphertexts: the log, the snapshots and
// this state never see a plaintext.
type fsm struct {
	mu    sync.RWMutex // guards state against a Restore swapping it
	state *inmem.Backend
	// applied is called with the keys each applied command changed,
	// after they are visible: how a node hears of writes it did not make.
	applied func(keys []string)

	// index is the last log index applied here (read-your-writes waits
	// on it); sig is closed and replaced at each apply.
	index   atomic.Uint64
	sigMu   sync.Mutex
	sig     chan struct{}
	members atomic.Pointer[map[string]struct{}]
	// own says whether an entry of the given term is one this node's
	// own writes made (it leads in that term): Applied is not called for
	// those, whose writer knows of them. Nil: none is.
	own atomic.Pointer[func(term uint64) bool]
	// ownRestore is set while this node restores a snapshot it was
	// given (RestoreSnapshot): not announced, like its own writes.
	ownRestore atomic.Bool
	// skip is the last index recover applied from this node's own disk:
	// Raft, which starts from the snapshot, applies those entries again,
	// and they are skipped.
	skip atomic.Uint64
}

var _ hraft.ConfigurationStore = (*fsm)(nil)

// StoreConfiguration records each committed membership: who may talk to
// this node on the cluster port.
func (f *fsm) StoreConfiguration(index uint64, c hraft.Configuration) {
	f.members.Store(membersOf(c))
	f.advance(index)
}

// changed is closed at the next apply.
func (f *fsm) changed() <-chan struct{} {
	f.sigMu.Lock()
	defer f.sigMu.Unlock()
	return f.sig
}

func (f *fsm) advance(index uint64) {
	if index > f.index.Load() {
		f.index.Store(index)
	}
	f.sigMu.Lock()
	close(f.sig)
	f.sig = make(chan struct{})
	f.sigMu.Unlock()
}

var _ hraft.FSM = (*fsm)(nil)

func newFSM(applied func([]string)) *fsm {
	return &fsm{state: inmem.New(), applied: applied, sig: make(chan struct{})}
}

func (f *fsm) backend() *inmem.Backend {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.state
}

// Apply applies one committed log entry; its error is the Apply future's
// response.
func (f *fsm) Apply(l *hraft.Log) any {
	return f.ApplyBatch([]*hraft.Log{l})[0]
}

var _ hraft.BatchingFSM = (*fsm)(nil)

// ApplyBatch applies the entries one commit brought (the writes of one
// group commit, up to MaxAppendEntries of them), each command on its own
// and in log order; the keys they changed are announced once and the
// applied index moves once, for the batch, after all of it is visible.
// Raft answers each entry's Apply future with its response only after
// this returns.
func (f *fsm) ApplyBatch(logs []*hraft.Log) []any {
	out := make([]any, len(logs))
	var keys []string
	skip := f.skip.Load()
	for i, l := range logs {
		if l.Index <= skip {
			// Applied already from this node's own disk (recover.go).
			continue
		}
		switch l.Type {
		case hraft.LogCommand:
			// This node's own writes as leader are not announced: their
			// writer knows of them.
			if f.applied != nil && !f.ownEntry(l.Term) {
				out[i] = f.applyCommand(l, &keys)
			} else {
				out[i] = f.applyCommand(l, nil)
			}
		case hraft.LogConfiguration:
			// A batching FSM is handed membership changes here, not
			// through StoreConfiguration.
			f.members.Store(membersOf(hraft.DecodeConfiguration(l.Data)))
		}
	}
	if f.applied != nil && len(keys) > 0 {
		f.applied(keys)
	}
	if len(logs) > 0 {
		f.advance(logs[len(logs)-1].Index)
	}
	return out
}

// applyCommand applies one command, adding the keys it changed to keys
// (when not nil); its error is the entry's response.
func (f *fsm) applyCommand(l *hraft.Log, keys *[]string) any {
	var c command
	if err := json.Unmarshal(l.Data, &c); err != nil {
		return fmt.Errorf("raft storage: undecodable log entry %d: %w", l.Index, err)
	}
	if err := storage.WriteAll(context.Background(), f.backend(), c.Puts, c.Deletes); err != nil {
		return err
	}
	if keys == nil {
		return nil
	}
	for _, e := range c.Puts {
		*keys = append(*keys, e.Key)
	}
	*keys = append(*keys, c.Deletes...)
	return nil
}

// ownEntry reports whether an entry of term was written through this
// node, as leader in that term.
func (f *fsm) ownEntry(term uint64) bool {
	own := f.own.Load()
	return own != nil && (*own)(term)
}

// Snapshot captures every entry.
func (f *fsm) Snapshot() (hraft.FSMSnapshot, error) {
	entries, err := collect(context.Background(), f.backend(), "")
	if err != nil {
		return nil, err
	}
	return &snapshot{entries: entries}, nil
}

// Restore replaces the state with a snapshot's.
func (f *fsm) Restore(r io.ReadCloser) error {
	defer r.Close()
	var entries []*storage.Entry
	if err := json.NewDecoder(r).Decode(&entries); err != nil {
		return fmt.Errorf("raft storage: reading snapshot: %w", err)
	}
	fresh := inmem.New()
	if err := storage.WriteAll(context.Background(), fresh, entries, nil); err != nil {
		return err
	}
	f.mu.Lock()
	f.state = fresh
	f.mu.Unlock()
	// Entries after a snapshot from elsewhere are applied, whatever
	// recover had replayed.
	f.skip.Store(0)
	if f.applied != nil && !f.ownRestore.Load() {
		// Everything may have changed.
		f.applied(nil)
	}
	return nil
}

type snapshot struct{ entries []*storage.Entry }

func (s *snapshot) Persist(sink hraft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(s.entries); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) Release() {}

// collect returns every entry under prefix, depth first.
func collect(ctx context.Context, st storage.Backend, prefix string) ([]*storage.Entry, error) {
	names, err := st.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var out []*storage.Entry
	for _, name := range names {
		if name[len(name)-1] == '/' {
			sub, err := collect(ctx, st, prefix+name)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
			continue
		}
		e, err := st.Get(ctx, prefix+name)
		if err != nil {
			return nil, err
		}
		if e != nil {
			out = append(out, e)
		}
	}
	return out, nil
}
