package e2e

import (
	"testing"

	"github.com/coder/websocket"
	"github.com/openbao/openbao/api/v2"
)

// Sealing ends every subscription with "try again later" (1013), not a
// policy violation: the subscriber may come back, and once the server is
// unsealed a new subscription hears of writes again.
func TestEventsEndWhenTheServerSeals(t *testing.T) {
	p, root, _, key := startListener(t)
	if err := root.Sys().Mount("secret", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	tok := root.Token()
	es, code := subscribe(t, p.addr, tok, "*", nil)
	if es == nil {
		t.Fatalf("subscribing: %d", code)
	}
	if err := root.Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	if got := es.closeStatus(); got != websocket.StatusTryAgainLater {
		t.Fatalf("sealing ended the subscription with %v, want %v", got, websocket.StatusTryAgainLater)
	}
	if _, code := subscribe(t, p.addr, tok, "*", nil); code != 503 {
		t.Fatalf("subscribing to a sealed server: %d, want 503", code)
	}
	if _, err := root.Sys().Unseal(key); err != nil {
		t.Fatal(err)
	}
	es, code = subscribe(t, p.addr, tok, "*", nil)
	if es == nil {
		t.Fatalf("subscribing after the unseal: %d", code)
	}
	if _, err := root.Logical().Write("secret/data/app", map[string]any{"data": map[string]any{"v": "1"}}); err != nil {
		t.Fatal(err)
	}
	if got := es.next().Data.Event.Metadata["path"]; got != "secret/data/app" {
		t.Fatalf("event for %q, want secret/data/app", got)
	}
}

// A subscription lasts as long as its token: a service token's and a
// batch token's end when they expire, while one renewed past its first
// expiry goes on hearing of writes.
func TestEventsEndWhenTheTokenExpires(t *testing.T) {
	p, root := startDev(t, "root")
	putPolicy(t, root, "watch", `
path "sys/events/subscribe/*" { capabilities = ["read"] }
path "secret/data/app" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }
`)
	mk := func(typ string) string {
		t.Helper()
		s, err := root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"watch"}, TTL: "6s", Type: typ, ExplicitMaxTTL: "1h"})
		if err != nil {
			t.Fatal(err)
		}
		return s.Auth.ClientToken
	}
	service, batch, renewed := mk("service"), mk("batch"), mk("service")
	streams := map[string]*eventStream{}
	for name, tok := range map[string]string{"service": service, "batch": batch, "renewed": renewed} {
		es, code := subscribe(t, p.addr, tok, "*", nil)
		if es == nil {
			t.Fatalf("subscribing with the %s token: %d", name, code)
		}
		streams[name] = es
	}
	rc := newClient(t, p.addr, renewed)
	if _, err := rc.Auth().Token().RenewSelf(3600); err != nil {
		t.Fatal(err)
	}
	put := func(v string) {
		t.Helper()
		if _, err := root.Logical().Write("secret/data/app", map[string]any{"data": map[string]any{"v": v}}); err != nil {
			t.Fatal(err)
		}
	}
	put("before")
	for name, es := range streams {
		if got := es.next().Data.Event.Metadata["path"]; got != "secret/data/app" {
			t.Fatalf("%s: event for %q before the expiry", name, got)
		}
	}
	for _, name := range []string{"service", "batch"} {
		if got := streams[name].closeStatus(); got != websocket.StatusPolicyViolation {
			t.Fatalf("the %s token expired and its subscription ended with %v, want %v", name, got, websocket.StatusPolicyViolation)
		}
	}
	// Both have expired, so the renewed token is past its first expiry.
	put("after")
	if got := streams["renewed"].next().Data.Event.Metadata["path"]; got != "secret/data/app" {
		t.Fatalf("the renewed token's subscription: event for %q", got)
	}
}
