package e2e

import (
	"strings"
	"testing"
)

// Every revoked lease is announced, whichever path revoked it: AppRole
// login leases revoked in a batch by revoke-prefix (the token store's
// batch path, which once published nothing), and a login token revoked
// by itself (its lease dropped with the token).
func TestEventsAnnounceBatchRevokedLoginLeases(t *testing.T) {
	p, root := startDev(t, "root")
	es, status := subscribe(t, p.addr, "root", "lease/*", nil)
	if es == nil {
		t.Fatalf("subscribe refused: %d", status)
	}
	tokens := approleLogins(t, root, 4)

	self, err := root.Clone()
	if err != nil {
		t.Fatal(err)
	}
	self.SetToken(tokens[0])
	if err := self.Auth().Token().RevokeSelf(""); err != nil {
		t.Fatal(err)
	}
	ev := es.next()
	if ev.Data.EventType != "lease/revoke" || !strings.HasPrefix(ev.Data.Event.Metadata["lease_id"], "auth/approle/login/") {
		t.Fatalf("after revoke-self: %+v; want a lease/revoke of an auth/approle/login lease", ev.Data)
	}
	first := ev.Data.Event.Metadata["lease_id"]

	if _, err := root.Logical().Write("sys/leases/revoke-prefix/auth/approle/login", nil); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{first: true}
	for range len(tokens) - 1 {
		ev := es.next()
		id := ev.Data.Event.Metadata["lease_id"]
		if ev.Data.EventType != "lease/revoke" || !strings.HasPrefix(id, "auth/approle/login/") || seen[id] {
			t.Fatalf("after revoke-prefix: %+v; want a lease/revoke of another auth/approle/login lease", ev.Data)
		}
		seen[id] = true
	}
	for _, tok := range tokens[1:] {
		c, _ := root.Clone()
		c.SetToken(tok)
		if _, err := c.Auth().Token().LookupSelf(); err == nil {
			t.Fatal("a token whose lease was announced as revoked still works")
		}
	}
}
