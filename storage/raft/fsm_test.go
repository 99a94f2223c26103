package raft

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	hraft "github.com/hashicorp/raft"

	"github.com/arca-secrets/arca/storage"
)

func commandLog(t *testing.T, index uint64, c command) *hraft.Log {
	t.Helper()
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return &hraft.Log{Index: index, Type: hraft.LogCommand, Data: raw}
}

// A batch is applied in log order, command by command: a put and a later
// delete of the same key leave it deleted, a later put brings it back;
// an undecodable entry fails alone; the keys are announced once, after
// all of the batch is visible, and the index moves to the batch's last.
func TestApplyBatchKeepsLogOrder(t *testing.T) {
	var announced [][]string
	var f *fsm
	f = newFSM(func(keys []string) {
		// What is announced must already be readable.
		if e, _ := f.backend().Get(context.Background(), "b"); e == nil {
			t.Error("keys announced before the batch was visible")
		}
		announced = append(announced, keys)
	})
	changed := f.changed()
	out := f.ApplyBatch([]*hraft.Log{
		commandLog(t, 7, command{Puts: []*storage.Entry{{Key: "a", Value: []byte("1")}}}),
		commandLog(t, 8, command{Deletes: []string{"a"}}),
		{Index: 9, Type: hraft.LogCommand, Data: []byte("{not json")},
		commandLog(t, 10, command{Puts: []*storage.Entry{{Key: "b", Value: []byte("2")}}}),
		commandLog(t, 11, command{Puts: []*storage.Entry{{Key: "c", Value: []byte("3")}}}),
		commandLog(t, 12, command{Deletes: []string{"c"}}),
		commandLog(t, 13, command{Puts: []*storage.Entry{{Key: "c", Value: []byte("4")}}}),
	})
	if len(out) != 7 {
		t.Fatalf("%d responses for 7 entries", len(out))
	}
	for i, r := range out {
		err, _ := r.(error)
		if (i == 2) != (err != nil) {
			t.Errorf("entry %d: response %v", i, r)
		}
	}
	ctx := context.Background()
	if e, _ := f.backend().Get(ctx, "a"); e != nil {
		t.Errorf("a was put then deleted, and reads %q", e.Value)
	}
	if e, _ := f.backend().Get(ctx, "c"); e == nil || string(e.Value) != "4" {
		t.Errorf("c: got %v, want the last put", e)
	}
	if len(announced) != 1 || !slices.Equal(announced[0], []string{"a", "a", "b", "c", "c", "c"}) {
		t.Errorf("announced %v", announced)
	}
	if got := f.index.Load(); got != 13 {
		t.Errorf("applied index %d, want 13", got)
	}
	select {
	case <-changed:
	default:
		t.Error("waiters on the applied index were not woken")
	}
}

// Membership changes reach a batching FSM in ApplyBatch (Raft does not
// call StoreConfiguration then): a removed node stops being a member on
// every node, so the cluster port refuses it.
func TestRemovedNodeIsNoLongerAMember(t *testing.T) {
	c := newCluster(t, 3)
	_, leader := c.leader(t)
	for id, n := range c.nodes {
		waitFor(t, id+" to know all three members", func() bool { return n.member("n1") && n.member("n2") && n.member("n3") && !n.member("n4") })
	}
	victim := "n3"
	if leader == c.nodes["n3"] {
		victim = "n2"
	}
	if err := leader.RemoveServer(victim); err != nil {
		t.Fatal(err)
	}
	for id, n := range c.nodes {
		if id == victim {
			continue
		}
		waitFor(t, id+" to drop "+victim, func() bool { return !n.member(victim) })
	}
}
