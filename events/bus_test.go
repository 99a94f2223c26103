package events

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// take waits for the subscription to have something and takes it.
func take(t *testing.T, s *Subscription) ([]Event, int) {
	t.Helper()
	select {
	case <-s.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("no event delivered")
	}
	return s.Take()
}

func TestPatternAndFilter(t *testing.T) {
	b := New(Config{})
	defer b.Close()
	kv, _ := b.Subscribe("kv*", "a1", nil)
	onlyA, _ := b.Subscribe("*", "a2", func(ev Event) bool { return ev.ReadPath() == "secret/data/a" })
	b.Publish(Event{Type: "kv-v2/data-write", Path: "secret/data/b"})
	b.Publish(Event{Type: "policy/write", Path: "sys/policies/acl/x"})
	b.Publish(Event{Type: "kv-v2/delete", Path: "secret/delete/a", DataPath: "secret/data/a"})
	var got []string
	for len(got) < 2 {
		evs, missed := take(t, kv)
		if missed != 0 {
			t.Fatalf("missed %d", missed)
		}
		for _, ev := range evs {
			got = append(got, ev.Type)
		}
	}
	if strings.Join(got, ",") != "kv-v2/data-write,kv-v2/delete" {
		t.Fatalf("kv* got %v", got)
	}
	evs, _ := take(t, onlyA)
	if len(evs) != 1 || evs[0].Path != "secret/delete/a" {
		t.Fatalf("filtered subscriber got %+v, want only the event about secret/data/a", evs)
	}
	if _, err := b.Subscribe("[", "x", nil); err != ErrBadPattern {
		t.Fatalf("bad pattern: got %v", err)
	}
}

// A subscriber that never takes must not hold up the publisher: its queue
// is bounded, the rest is dropped and counted, and it learns how many it
// missed.
func TestSlowSubscriberDoesNotBlockPublisher(t *testing.T) {
	b := New(Config{Queue: 4})
	defer b.Close()
	slow, _ := b.Subscribe("*", "slow", nil)
	var subs []*Subscription
	for range 1000 {
		s, _ := b.Subscribe("*", "many", nil)
		subs = append(subs, s)
	}
	start := time.Now()
	for range 200 {
		b.Publish(Event{Type: "kv-v1/write", Path: "kv/x"})
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("200 publishes took %v with 1001 idle subscribers", d)
	}
	// The dispatcher keeps order: once the probe has its event, every
	// earlier one has been offered to the slow subscriber.
	probe, _ := b.Subscribe("probe", "probe", nil)
	b.Publish(Event{Type: "probe"})
	take(t, probe)
	evs, missed := slow.Take()
	// 200 missed but the 4 queued, and the probe's own event, which the
	// dispatcher may offer to the slow subscriber just after the probe.
	if total := len(evs); total != 4 || missed < 196 || missed > 197 {
		t.Fatalf("slow subscriber: got %d events and %d missed, want at most its queue and the rest missed", total, missed)
	}
	b.RevokeToken("many")
	for _, s := range subs {
		<-s.Done()
		if s.Err() != ErrTokenRevoked {
			t.Fatalf("got %v, want ErrTokenRevoked", s.Err())
		}
	}
	if n := b.Subscribers(); n != 2 { // slow and the probe
		t.Fatalf("%d subscribers after revocation, want 2", n)
	}
	b.Close()
	<-slow.Done()
	if slow.Err() != ErrClosed {
		t.Fatalf("got %v, want ErrClosed", slow.Err())
	}
	if _, err := b.Subscribe("*", "", nil); err != ErrClosed {
		t.Fatalf("subscribe after close: %v", err)
	}
}

func TestForRequest(t *testing.T) {
	v2 := Mount{Path: "secret/", Type: "kv", Version: "2", Accessor: "kv_1"}
	v1 := Mount{Path: "kv/", Type: "kv"}
	wl := Mount{Path: "auth/workload/", Type: "workload"}
	tests := []struct {
		name      string
		m         Mount
		rel, op   string
		typ, path string
		readPath  string
	}{
		{"write", v2, "data/app", "create", "kv-v2/data-write", "secret/data/app", "secret/data/app"},
		{"update", v2, "data/app", "update", "kv-v2/data-write", "secret/data/app", "secret/data/app"},
		{"patch", v2, "data/app", "patch", "kv-v2/data-patch", "secret/data/app", "secret/data/app"},
		{"data delete", v2, "data/app", "delete", "kv-v2/data-delete", "secret/data/app", "secret/data/app"},
		{"soft delete", v2, "delete/app", "update", "kv-v2/delete", "secret/delete/app", "secret/data/app"},
		{"undelete", v2, "undelete/a/b", "update", "kv-v2/undelete", "secret/undelete/a/b", "secret/data/a/b"},
		{"destroy", v2, "destroy/app", "update", "kv-v2/destroy", "secret/destroy/app", "secret/data/app"},
		{"metadata delete", v2, "metadata/app", "delete", "kv-v2/metadata-delete", "secret/metadata/app", "secret/data/app"},
		{"metadata write", v2, "metadata/app", "update", "kv-v2/metadata-write", "secret/metadata/app", "secret/data/app"},
		{"config", v2, "config", "update", "kv-v2/config-write", "secret/config", "secret/config"},
		{"read", v2, "data/app", "read", "", "", ""},
		{"list", v2, "metadata/", "list", "", "", ""},
		{"v1 write", v1, "app", "update", "kv-v1/write", "kv/app", "kv/app"},
		{"v1 delete", v1, "app", "delete", "kv-v1/delete", "kv/app", "kv/app"},
		{"role write", wl, "role/web", "update", "workload/role-write", "auth/workload/role/web", "auth/workload/role/web"},
		{"role delete", wl, "role/web", "delete", "workload/role-delete", "auth/workload/role/web", "auth/workload/role/web"},
		{"login", wl, "login", "update", "", "", ""},
		{"other engine", Mount{Path: "transit/", Type: "transit"}, "keys/k", "update", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, ok := ForRequest(tt.m, tt.rel, tt.op)
			if ok != (tt.typ != "") {
				t.Fatalf("got event %v, want one: %v", ok, tt.typ != "")
			}
			if !ok {
				return
			}
			if ev.Type != tt.typ || ev.Path != tt.path || ev.ReadPath() != tt.readPath {
				t.Fatalf("got %s %s (read %s), want %s %s (read %s)", ev.Type, ev.Path, ev.ReadPath(), tt.typ, tt.path, tt.readPath)
			}
		})
	}
}

func TestCloudEventShape(t *testing.T) {
	ev, _ := ForRequest(Mount{Path: "secret/", Type: "kv", Version: "2"}, "data/app", "update")
	ev.ID, ev.Time = "id1", time.Unix(0, 0)
	raw, err := ev.CloudEvent()
	if err != nil {
		t.Fatal(err)
	}
	var got Received
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	md := got.Data.Event.Metadata
	if got.Data.EventType != "kv-v2/data-write" || md["path"] != "secret/data/app" || md["data_path"] != "secret/data/app" || md["operation"] != "data-write" {
		t.Fatalf("got %s", raw)
	}
}
