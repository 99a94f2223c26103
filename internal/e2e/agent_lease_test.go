package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// The agent renews the lease of a dynamic secret it handed out for as
// long as the workload's process lives, and lets it expire once the
// process is gone: against a real PostgreSQL, with a 3s TTL, the test
// process (alive) keeps its database user past the TTL; curl's (gone)
// is dropped.
func TestAgentRenewsLeasesWhileTheWorkloadLives(t *testing.T) {
	requireRoot(t)
	db := newDBFixture(t)
	db.write(t, "database/roles/short", map[string]any{
		"db_name":             "pg",
		"creation_statements": []string{`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`},
		"default_ttl":         "3s",
		"max_ttl":             "1m",
	})
	f := newAgentFixture(t, db.proc, db.root)
	if err := db.root.Sys().PutPolicy("short", `path "database/creds/short" { capabilities = ["read"] }
path "sys/leases/renew" { capabilities = ["update"] }`); err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	uid, gid := testUser(t, "arca-wl-a")
	for name, binding := range map[string]map[string]any{
		"tests": {"bound_uids": "0", "bound_exe_paths": self},
		"curl":  {"bound_uids": fmt.Sprint(uid), "bound_exe_paths": "/usr/bin/curl"},
	} {
		binding["token_policies"] = "short"
		if _, err := db.root.Logical().Write("auth/workload/role/"+name, binding); err != nil {
			t.Fatal(err)
		}
	}
	type creds struct {
		LeaseID string `json:"lease_id"`
		Data    struct {
			Username string `json:"username"`
		} `json:"data"`
	}
	read := func(code int, body string) creds {
		t.Helper()
		var c creds
		if err := json.Unmarshal([]byte(body), &c); code != 200 || err != nil || c.LeaseID == "" {
			t.Fatalf("database/creds/short through the agent: %d %s", code, body)
		}
		return c
	}
	alive := read(f.get("/v1/database/creds/short"))
	gone := read(f.curlAs(t, uid, gid, "/usr/bin/curl", "/v1/database/creds/short"))
	issued := time.Now()

	// The exited workload's user goes with its lease's TTL.
	db.waitGone(t, gone.Data.Username, 20*time.Second)
	// The living one's lease was renewed, and outlives its first TTL
	// by more than one renewal.
	agentEventually(t, 20*time.Second, func() (bool, string) {
		s, err := db.root.Logical().Write("sys/leases/lookup", map[string]any{"lease_id": alive.LeaseID})
		if err != nil {
			return false, fmt.Sprintf("the living workload's lease: %v\nagent:\n%s", err, f.output())
		}
		renewed := s.Data["last_renewal_time"] != nil
		return renewed && time.Since(issued) > 7*time.Second, fmt.Sprintf("lease %v", s.Data)
	})
	if !db.roleExists(t, alive.Data.Username) {
		t.Fatalf("the living workload's user %s was dropped", alive.Data.Username)
	}
	if !strings.Contains(f.output(), "workload gone; its lease is left to expire") {
		t.Errorf("the agent did not say it let the gone workload's lease expire:\n%s", f.output())
	}
}
