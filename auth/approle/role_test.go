package approle_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/arca-secrets/arca/logical"
)

func TestRoleReadShapeAndDefaults(t *testing.T) {
	h := newHarness(t)
	h.must(logical.CreateOperation, "role/App1", `{"policies":"b, a","token_ttl":"20m","token_max_ttl":1800,
		"secret_id_ttl":"10m","secret_id_num_uses":"40","secret_id_bound_cidrs":"10.0.0.0/8",
		"token_bound_cidrs":["192.168.1.7"],"token_type":"batch","token_num_uses":3}`)
	got := roundTrip(t, h.must(logical.ReadOperation, "role/app1", "").Data)
	want := roundTrip(t, map[string]any{
		"bind_secret_id":          true,
		"secret_id_bound_cidrs":   []string{"10.0.0.0/8"},
		"secret_id_num_uses":      40,
		"secret_id_ttl":           600,
		"local_secret_ids":        false,
		"token_policies":          []string{"a", "b"},
		"policies":                []string{"a", "b"},
		"token_ttl":               1200,
		"token_max_ttl":           1800,
		"token_explicit_max_ttl":  0,
		"token_period":            0,
		"period":                  0,
		"token_num_uses":          3,
		"token_bound_cidrs":       []string{"192.168.1.7/32"},
		"token_no_default_policy": false,
		"token_type":              "batch",
	})
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("role read (-want +got):\n%s", d)
	}
	if _, ok := got["role_id"]; ok {
		t.Fatalf("role read shows role_id; Vault answers it only on role-id")
	}
}

func TestRoleUpdateKeepsUnsetFields(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "role/app", `{"token_policies":["p1"],"secret_id_num_uses":2}`)
	id := h.roleID("app")
	h.must(logical.UpdateOperation, "role/app", `{"token_ttl":60}`)
	data := h.must(logical.ReadOperation, "role/app", "").Data
	if got := data["token_policies"].([]string); !slices.Equal(got, []string{"p1"}) {
		t.Fatalf("got policies %v, want [p1]", got)
	}
	if got := data["secret_id_num_uses"]; got != 2 {
		t.Fatalf("got secret_id_num_uses %v, want 2", got)
	}
	if got := h.roleID("app"); got != id {
		t.Fatalf("update changed role_id from %q to %q", id, got)
	}
}

func TestRoleListAndDelete(t *testing.T) {
	h := newHarness(t)
	if resp := h.must(logical.ListOperation, "role/", ""); resp != nil {
		t.Fatalf("empty list: got %+v, want nil (404)", resp)
	}
	for _, n := range []string{"b", "a", "c"} {
		h.must(logical.UpdateOperation, "role/"+n, `{}`)
	}
	keys := h.must(logical.ListOperation, "role/", "").Data["keys"]
	if d := cmp.Diff([]string{"a", "b", "c"}, keys); d != "" {
		t.Fatalf("list (-want +got):\n%s", d)
	}
	id := h.roleID("b")
	secret, _ := h.secretID("b", "")
	h.must(logical.DeleteOperation, "role/b", "")
	if resp := h.must(logical.ReadOperation, "role/b", ""); resp != nil {
		t.Fatalf("read after delete: got %+v, want nil", resp)
	}
	// The role's secret IDs and role ID index go with it.
	for k := range h.dump() {
		if strings.Contains(k, "/b/") {
			t.Fatalf("entry %q survived the role's deletion", k)
		}
	}
	h.must(logical.UpdateOperation, "role/b", `{"role_id":"`+id+`"}`)
	resp, err := h.login(id, secret)
	wantInvalidLogin(t, resp, err)
	// Deleting a missing role is not an error.
	h.must(logical.DeleteOperation, "role/nothing", "")
}

func TestRoleDeleteLeavesNoEntries(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "role/app", `{}`)
	h.secretID("app", "")
	h.secretID("app", "")
	h.must(logical.DeleteOperation, "role/app", "")
	var left []string
	for k := range h.dump() {
		if k != "salt" {
			left = append(left, k)
		}
	}
	if len(left) != 0 {
		t.Fatalf("got entries %v after deleting the only role, want none but the salt", left)
	}
}

func TestRoleID(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "role/app", `{}`)
	h.must(logical.UpdateOperation, "role/other", `{"role_id":"taken"}`)
	secret, _ := h.secretID("app", "")
	old := h.roleID("app")
	if len(old) != 36 {
		t.Fatalf("got generated role_id %q, want a UUID", old)
	}
	if got := h.roleID("other"); got != "taken" {
		t.Fatalf("got custom role_id %q, want %q", got, "taken")
	}
	_, err := h.do(logical.UpdateOperation, "role/app/role-id", `{"role_id":"taken"}`)
	wantKind(t, err, logical.ErrInvalidRequest)
	_, err = h.do(logical.UpdateOperation, "role/app/role-id", `{}`)
	wantKind(t, err, logical.ErrInvalidRequest)

	h.must(logical.UpdateOperation, "role/app/role-id", `{"role_id":"custom-id"}`)
	if got := h.roleID("app"); got != "custom-id" {
		t.Fatalf("got role_id %q, want custom-id", got)
	}
	resp, err := h.login(old, secret)
	wantInvalidLogin(t, resp, err)
	if _, err := h.login("custom-id", secret); err != nil {
		t.Fatalf("login with the new role_id: %v", err)
	}
	if resp := h.must(logical.ReadOperation, "role/missing/role-id", ""); resp != nil {
		t.Fatalf("role-id of a missing role: got %+v, want nil", resp)
	}
	_, err = h.do(logical.UpdateOperation, "role/missing/role-id", `{"role_id":"x"}`)
	wantKind(t, err, logical.ErrInvalidRequest)
}

func TestRoleUnknownFieldsWarn(t *testing.T) {
	h := newHarness(t)
	resp := h.must(logical.UpdateOperation, "role/app", `{"token_ttl":5,"colour":"blue"}`)
	if resp == nil || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "colour") {
		t.Fatalf("got %+v, want one warning naming colour", resp)
	}
	if h.must(logical.ReadOperation, "role/app", "") == nil {
		t.Fatalf("role with an unknown field was not stored")
	}
}

func TestRoleBadInput(t *testing.T) {
	tests := []struct {
		name, path, body string
	}{
		{"bad duration", "role/app", `{"token_ttl":"soon"}`},
		{"negative duration", "role/app", `{"secret_id_ttl":-5}`},
		{"bad secret_id_ttl", "role/app", `{"secret_id_ttl":"1 fortnight"}`},
		{"ttl above max", "role/app", `{"token_ttl":"2h","token_max_ttl":"1h"}`},
		{"bad cidr", "role/app", `{"secret_id_bound_cidrs":"10.0.0.0/33"}`},
		{"bad token cidr", "role/app", `{"token_bound_cidrs":["nope"]}`},
		{"bad num uses", "role/app", `{"secret_id_num_uses":-1}`},
		{"bad bool", "role/app", `{"bind_secret_id":"maybe"}`},
		{"bad token type", "role/app", `{"token_type":"gold"}`},
		{"policies not strings", "role/app", `{"token_policies":[1]}`},
		{"no constraint", "role/app", `{"bind_secret_id":false}`},
		{"bad role name", "role/a*b", `{}`},
		{"bad role_id type", "role/app", `{"role_id":5}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			_, err := h.do(logical.UpdateOperation, tc.path, tc.body)
			wantKind(t, err, logical.ErrInvalidRequest)
			if keys, _ := h.st.List(context.Background(), "role/"); len(keys) != 0 {
				t.Fatalf("bad input stored roles %v", keys)
			}
		})
	}
}

func TestUnsupported(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "role/app", `{}`)
	tests := []struct {
		name string
		op   logical.Operation
		path string
		kind error
	}{
		{"read login", logical.ReadOperation, "login", logical.ErrUnsupportedOperation},
		{"read role list path", logical.ReadOperation, "role", logical.ErrUnsupportedOperation},
		{"delete role-id", logical.DeleteOperation, "role/app/role-id", logical.ErrUnsupportedOperation},
		{"read secret-id", logical.ReadOperation, "role/app/secret-id", logical.ErrUnsupportedOperation},
		{"unknown sub path", logical.ReadOperation, "role/app/nothing", logical.ErrUnsupportedPath},
		{"unknown top path", logical.ReadOperation, "config", logical.ErrUnsupportedPath},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.do(tc.op, tc.path, "")
			wantKind(t, err, tc.kind)
		})
	}
}

func TestExistsAndLoginPaths(t *testing.T) {
	h := newHarness(t)
	ec := h.eng.(logical.ExistenceChecker)
	exists := func(path string) bool {
		t.Helper()
		ok, err := ec.Exists(context.Background(), &logical.Request{Path: path, Storage: h.st})
		if err != nil {
			t.Fatalf("Exists(%q): %v", path, err)
		}
		return ok
	}
	if exists("role/app") {
		t.Fatalf("got exists before create, want not")
	}
	h.must(logical.UpdateOperation, "role/app", `{}`)
	if !exists("role/APP") {
		t.Fatalf("got not exists after create, want exists")
	}
	if got := h.eng.(logical.LoginPaths).LoginPaths(); !slices.Equal(got, []string{"login"}) {
		t.Fatalf("got login paths %v, want [login]", got)
	}
}
