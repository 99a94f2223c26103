package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/arca-secrets/arca/events"
)

// eventStream is a subscription to a server's sys/events/subscribe.
type eventStream struct {
	t    *testing.T
	conn *websocket.Conn
	got  chan events.Received
	raw  chan string
	// closed holds the error the stream ended with.
	closed chan error
}

// subscribe opens a WebSocket on sys/events/subscribe/<pattern> with
// token, or returns the HTTP status the server refused it with.
func subscribe(t *testing.T, addr, token, pattern string, dialer *net.Dialer) (*eventStream, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts := &websocket.DialOptions{HTTPHeader: http.Header{"X-Vault-Token": {token}}}
	if dialer != nil {
		opts.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	}
	conn, resp, err := websocket.Dial(ctx, "ws://"+addr+"/v1/sys/events/subscribe/"+pattern+"?json=true", opts)
	if err != nil {
		if resp != nil {
			return nil, resp.StatusCode
		}
		t.Fatal(err)
	}
	conn.SetReadLimit(1 << 20)
	es := &eventStream{t: t, conn: conn, got: make(chan events.Received, 100000), raw: make(chan string, 100000), closed: make(chan error, 1)}
	go func() {
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				es.closed <- err
				close(es.got)
				return
			}
			var ev events.Received
			if err := json.Unmarshal(b, &ev); err != nil {
				es.closed <- err
				close(es.got)
				return
			}
			es.raw <- string(b)
			es.got <- ev
		}
	}()
	t.Cleanup(func() { conn.CloseNow() })
	return es, 0
}

// next returns the next event, failing the test after 10s.
func (es *eventStream) next() events.Received {
	es.t.Helper()
	select {
	case ev, ok := <-es.got:
		if !ok {
			es.t.Fatalf("stream closed: %v", <-es.closed)
		}
		return ev
	case <-time.After(10 * time.Second):
		es.t.Fatal("no event within 10s")
	}
	return events.Received{}
}

// closeStatus waits for the stream to end and returns its close status.
func (es *eventStream) closeStatus() websocket.StatusCode {
	es.t.Helper()
	for {
		select {
		case _, ok := <-es.got:
			if ok {
				continue
			}
			return websocket.CloseStatus(<-es.closed)
		case <-time.After(15 * time.Second):
			es.t.Fatal("the stream was not closed within 15s")
		}
	}
}

func TestEventsKVv2AreAnnouncedWithoutValues(t *testing.T) {
	p, root := startDev(t, "root")
	es, status := subscribe(t, p.addr, "root", "kv*", nil)
	if es == nil {
		t.Fatalf("subscribe refused: %d", status)
	}
	kv := root.KVv2("secret")
	ctx := context.Background()
	if _, err := kv.Put(ctx, "app", map[string]any{"password": "hunter2-value"}); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Patch(ctx, "app", map[string]any{"password": "patched-value"}); err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if err := kv.Undelete(ctx, "app", []int{2}); err != nil {
		t.Fatal(err)
	}
	if err := kv.Destroy(ctx, "app", []int{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Read("secret/data/app"); err != nil { // reads announce nothing
		t.Fatal(err)
	}
	if err := kv.DeleteMetadata(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	want := []string{"kv-v2/data-write", "kv-v2/data-patch", "kv-v2/data-delete", "kv-v2/undelete", "kv-v2/destroy", "kv-v2/metadata-delete"}
	for _, w := range want {
		ev := es.next()
		raw := <-es.raw
		if ev.Data.EventType != w || ev.Data.Event.Metadata["data_path"] != "secret/data/app" {
			t.Fatalf("got %s, want %s about secret/data/app", raw, w)
		}
		if strings.Contains(raw, "hunter2") || strings.Contains(raw, "patched-value") {
			t.Fatalf("an event carries a value: %s", raw)
		}
	}
	// Without json=true, or without a WebSocket, the endpoint says why.
	if code, body := rawRequest(t, p.addr, "root", "GET", "/v1/sys/events/subscribe/kv*", nil); code != http.StatusBadRequest || !strings.Contains(body, "json=true") {
		t.Fatalf("without json=true: %d %s", code, body)
	}
	if code, body := rawRequest(t, p.addr, "root", "GET", "/v1/sys/events/subscribe/kv*?json=true", nil); code != http.StatusBadRequest || !strings.Contains(body, "WebSocket") {
		t.Fatalf("without an upgrade: %d %s", code, body)
	}
}

// A subscriber learns only of the paths it may read now: nothing of a
// path it may not read (not that it changed), nor of a spelling that
// differs by case or extends the path; a policy change takes effect on
// the next event; a revoked token's stream is closed.
func TestEventsFollowTheSubscribersACL(t *testing.T) {
	p, root := startDev(t, "root")
	putPolicy(t, root, "watch-a", `
path "sys/events/subscribe/*" { capabilities = ["read"] }
path "secret/data/app" { capabilities = ["read"] }
`)
	tok := childToken(t, root, "watch-a")
	es, status := subscribe(t, p.addr, tok, "*", nil)
	if es == nil {
		t.Fatalf("subscribe refused: %d", status)
	}
	put := func(path string) {
		t.Helper()
		if _, err := root.Logical().Write("secret/data/"+path, map[string]any{"data": map[string]any{"k": "v"}}); err != nil {
			t.Fatal(err)
		}
	}
	// Events come in order: the first one the subscriber sees being
	// about secret/data/app proves the earlier ones were never sent.
	for _, other := range []string{"other", "App", "APP", "app/x", "app2", "app_"} {
		put(other)
	}
	if err := root.Sys().PutPolicy("unrelated", `path "x/*" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	put("app")
	if ev := es.next(); ev.Data.Event.Metadata["path"] != "secret/data/app" {
		t.Fatalf("got an event about %q, want only secret/data/app", ev.Data.Event.Metadata["path"])
	}
	// The policy widens: other is now seen, judged at the event.
	putPolicy(t, root, "watch-a", `
path "sys/events/subscribe/*" { capabilities = ["read"] }
path "secret/data/other" { capabilities = ["read"] }
`)
	put("app")
	put("other")
	if ev := es.next(); ev.Data.Event.Metadata["path"] != "secret/data/other" {
		t.Fatalf("after the policy change got %q, want secret/data/other (and nothing of app)", ev.Data.Event.Metadata["path"])
	}

	// The subscribe capability: told of a change, refused its value.
	putPolicy(t, root, "hear-only", `
path "sys/events/subscribe/*" { capabilities = ["read"] }
path "secret/data/hear" { capabilities = ["subscribe"] }
`)
	hear := childToken(t, root, "hear-only")
	hs, _ := subscribe(t, p.addr, hear, "kv*", nil)
	if hs == nil {
		t.Fatal("subscribe with the subscribe capability refused")
	}
	put("hear")
	if ev := hs.next(); ev.Data.Event.Metadata["path"] != "secret/data/hear" {
		t.Fatalf("subscribe capability: got an event about %q", ev.Data.Event.Metadata["path"])
	}
	if code, _ := rawRequest(t, p.addr, hear, "GET", "/v1/secret/data/hear", nil); code != http.StatusForbidden {
		t.Fatalf("reading with only subscribe: %d, want 403", code)
	}

	// Without read on the subscribe path: refused before any upgrade.
	putPolicy(t, root, "no-sub", `path "secret/data/*" { capabilities = ["read"] }`)
	if es, status := subscribe(t, p.addr, childToken(t, root, "no-sub"), "kv*", nil); es != nil || status != http.StatusForbidden {
		t.Fatalf("a token without read on sys/events/subscribe: got status %d, want 403", status)
	}
	// Read on one event type only is not read on another.
	putPolicy(t, root, "one-type", `path "sys/events/subscribe/kv-v2/data-write" { capabilities = ["read"] }`)
	one := childToken(t, root, "one-type")
	if es, status := subscribe(t, p.addr, one, "kv*", nil); es != nil || status != http.StatusForbidden {
		t.Fatalf("subscribe kv* with read on kv-v2/data-write only: status %d, want 403", status)
	}
	if es, _ := subscribe(t, p.addr, one, "kv-v2/data-write", nil); es == nil {
		t.Fatal("subscribe on the one allowed type refused")
	}

	// Revoking the token ends its stream, and it cannot subscribe again.
	if err := root.Auth().Token().RevokeTree(tok); err != nil {
		t.Fatal(err)
	}
	if code := es.closeStatus(); code != websocket.StatusPolicyViolation {
		t.Fatalf("revoked token's stream closed with %v, want policy violation", code)
	}
	if es, status := subscribe(t, p.addr, tok, "*", nil); es != nil || status != http.StatusForbidden {
		t.Fatalf("revoked token subscribing: status %d, want 403", status)
	}
}

// Many subscribers and one that does not read at all do not hold up
// writers: the one that does not read misses events and is told so.
func TestEventsSlowSubscriberMissesWithoutBlockingWriters(t *testing.T) {
	p, _ := startDev(t, "root")
	const many = 10
	var streams []*eventStream
	for range many {
		es, status := subscribe(t, p.addr, "root", "kv-v2/data-write", nil)
		if es == nil {
			t.Fatalf("subscribe: %d", status)
		}
		streams = append(streams, es)
	}
	// The slow one reads nothing until the writes are done, through a
	// small receive buffer, so the server's queue for it fills up.
	slowDialer := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return errors.Join(err, serr)
	}}
	slow, status := subscribeSlow(t, p.addr, slowDialer)
	if slow == nil {
		t.Fatalf("subscribe: %d", status)
	}
	const writes = 600
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, writes)
	for w := range 8 {
		wg.Go(func() {
			c := newClient(t, p.addr, "root")
			for i := w; i < writes; i += 8 {
				if _, err := c.Logical().Write("secret/data/k", map[string]any{"data": map[string]any{"i": i}}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("%d writes with %d subscribers and one that does not read: %v", writes, many+1, took)
	// The slow one, reading at last, is told it missed some, on the
	// same connection: the writes finished before it read a byte, so they
	// did not wait for it (nor for the server to drop it).
	sawMissed := false
	for n := 0; !sawMissed; n++ {
		slow.n = n
		ev := slow.next()
		if ev.Data.EventType == events.TypeMissed {
			t.Logf("the slow subscriber missed %s events", ev.Data.Event.Metadata["count"])
			sawMissed = ev.Data.Event.Metadata["count"] != "" && ev.Data.Event.Metadata["count"] != "0"
		}
	}
	// Each fast subscriber gets every event.
	for _, es := range streams[:3] {
		for range writes {
			if ev := es.next(); ev.Data.EventType != "kv-v2/data-write" {
				t.Fatalf("got %s", ev.Data.EventType)
			}
		}
	}
}

// subscribeSlow opens a subscription whose client reads nothing until
// next is first called.
func subscribeSlow(t *testing.T, addr string, dialer *net.Dialer) (*slowStream, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts := &websocket.DialOptions{HTTPHeader: http.Header{"X-Vault-Token": {"root"}},
		HTTPClient: &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}}
	conn, resp, err := websocket.Dial(ctx, "ws://"+addr+"/v1/sys/events/subscribe/kv-v2/data-write?json=true", opts)
	if err != nil {
		if resp != nil {
			return nil, resp.StatusCode
		}
		t.Fatal(err)
	}
	conn.SetReadLimit(1 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	return &slowStream{t: t, conn: conn}, 0
}

type slowStream struct {
	t    *testing.T
	conn *websocket.Conn
	n    int // events read so far, for a failure's message
}

func (s *slowStream) next() events.Received {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := s.conn.Read(ctx)
	if err != nil {
		s.t.Fatalf("slow stream, after %d events: %v", s.n, err)
	}
	var ev events.Received
	if err := json.Unmarshal(b, &ev); err != nil {
		s.t.Fatal(err)
	}
	return ev
}
