package workload

import (
	"context"
	"strings"
	"testing"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage/inmem"
)

func newTestEngine(t *testing.T) (*Engine, *logical.Request) {
	e, _ := Factory(context.Background(), logical.MountConfig{Storage: inmem.New()})
	return e.(*Engine), &logical.Request{Storage: e.(*Engine).storage}
}

func do(t *testing.T, e *Engine, op logical.Operation, path string, data map[string]any) (*logical.Response, error) {
	t.Helper()
	return e.HandleRequest(context.Background(), &logical.Request{Operation: op, Path: path, Data: data, Storage: e.storage, DisplayName: "approle-host1"})
}

// The one matching role decides; no match and several matches are
// refused with the identity that was seen.
func TestLoginPicksTheOneMatchingRole(t *testing.T) {
	e, _ := newTestEngine(t)
	for name, data := range map[string]map[string]any{
		"web":    {"bound_uids": []any{"1001"}, "bound_exe_paths": []any{"/usr/bin/web"}, "token_policies": "web"},
		"batch":  {"bound_uids": "1002", "bound_cgroups": "/system.slice/batch-*.service", "token_policies": "batch"},
		"agentx": {"bound_gids": "50", "bound_agents": "approle-other", "token_policies": "x"},
	} {
		if _, err := do(t, e, logical.UpdateOperation, "role/"+name, data); err != nil {
			t.Fatal(name, err)
		}
	}
	resp, err := do(t, e, logical.UpdateOperation, "login", map[string]any{"uid": "1001", "gid": "1001", "exe_path": "/usr/bin/web"})
	if err != nil || resp.Auth == nil || resp.Auth.Policies[0] != "web" || resp.Auth.LeasePath != "login/web" || resp.Auth.Metadata["agent"] != "approle-host1" {
		t.Fatalf("web login: %+v, %v", resp, err)
	}
	_, err = do(t, e, logical.UpdateOperation, "login", map[string]any{"uid": "1001", "gid": "1001", "exe_path": "/usr/bin/curl"})
	if err == nil || !strings.Contains(err.Error(), "uid=1001 gid=1001") || !strings.Contains(err.Error(), "exe=/usr/bin/curl") {
		t.Fatalf("other exe: %v", err)
	}
	// bound_agents: this agent may not vouch for gid 50.
	if _, err := do(t, e, logical.UpdateOperation, "login", map[string]any{"uid": "7", "gid": "50"}); err == nil {
		t.Fatal("an agent not in bound_agents vouched")
	}
	resp, err = do(t, e, logical.UpdateOperation, "login", map[string]any{"uid": "1002", "gid": "1", "cgroup": "/system.slice/batch-nightly.service"})
	if err != nil || resp.Auth.Policies[0] != "batch" {
		t.Fatalf("batch: %+v %v", resp, err)
	}
	if _, err := do(t, e, logical.UpdateOperation, "role/web2", map[string]any{"bound_uids": "1001", "token_policies": "web2"}); err != nil {
		t.Fatal(err)
	}
	_, err = do(t, e, logical.UpdateOperation, "login", map[string]any{"uid": "1001", "gid": "1001", "exe_path": "/usr/bin/web"})
	if err == nil || !strings.Contains(err.Error(), "several workload roles (web, web2)") {
		t.Fatalf("ambiguous: %v", err)
	}
}

func TestRoleValidation(t *testing.T) {
	e, _ := newTestEngine(t)
	for _, data := range []map[string]any{
		{"token_policies": "x"},
		{"bound_agents": "a", "token_policies": "x"},
		{"bound_uids": "*"},
		{"bound_exe_sha256": "abc"},
		{"bound_uids": "1", "token_type": "batch"},
		{"bound_uids": 5},
		{"bound_uids": "1", "token_no_default_policy": true},
	} {
		if _, err := do(t, e, logical.UpdateOperation, "role/r", data); err == nil {
			t.Errorf("%v accepted", data)
		}
	}
	if _, err := do(t, e, logical.UpdateOperation, "login", map[string]any{"exe_path": "/x"}); err == nil {
		t.Error("login without uid/gid accepted")
	}
}

// A workload's own token cannot vouch for workloads, whatever its policy
// allows: only an agent's token names the selectors it attested.
func TestWorkloadTokenCannotLogIn(t *testing.T) {
	e, _ := newTestEngine(t)
	if _, err := do(t, e, logical.UpdateOperation, "role/web", map[string]any{"bound_uids": "1001", "token_policies": "web"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, display string
		ok            bool
	}{
		{"an agent", "approle-host1", true},
		{"a workload's token", "workload-web", false},
		{"a token from another mount", "workloads-x", true},
	} {
		_, err := e.HandleRequest(context.Background(), &logical.Request{Operation: logical.UpdateOperation, Path: "login", MountPoint: "auth/workload/",
			Data: map[string]any{"uid": "1001", "gid": "1001"}, Storage: e.storage, DisplayName: c.display})
		if (err == nil) != c.ok {
			t.Errorf("%s: got %v, want ok=%v", c.name, err, c.ok)
		}
	}
}
