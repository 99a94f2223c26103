package userpass_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/inmem"
)

func TestUserReadShape(t *testing.T) {
	h := newHarness(t)
	h.must(logical.CreateOperation, "users/Bob", `{"password":"pw","policies":"web, db","token_ttl":"1h",
		"token_max_ttl":7200,"token_period":"0","token_num_uses":"2","token_bound_cidrs":"10.0.0.0/8",
		"token_no_default_policy":true,"token_type":"service"}`)
	got := roundTrip(t, h.must(logical.ReadOperation, "users/bob", "").Data)
	want := roundTrip(t, map[string]any{
		"token_policies":          []string{"db", "web"},
		"policies":                []string{"db", "web"},
		"token_ttl":               3600,
		"token_max_ttl":           7200,
		"token_explicit_max_ttl":  0,
		"token_period":            0,
		"period":                  0,
		"token_num_uses":          2,
		"token_bound_cidrs":       []string{"10.0.0.0/8"},
		"token_no_default_policy": true,
		"token_type":              "service",
	})
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("read (-want +got):\n%s", d)
	}
	if resp := h.must(logical.ReadOperation, "users/nobody", ""); resp != nil {
		t.Fatalf("read of a missing user: got %+v, want nil (404)", resp)
	}
}

func TestUserListUpdateDelete(t *testing.T) {
	h := newHarness(t)
	if resp := h.must(logical.ListOperation, "users/", ""); resp != nil {
		t.Fatalf("empty list: got %+v, want nil (404)", resp)
	}
	for _, n := range []string{"carol", "alice", "bob.smith@example.com"} {
		h.must(logical.UpdateOperation, "users/"+n, `{"password":"pw-`+n+`"}`)
	}
	keys := h.must(logical.ListOperation, "users/", "").Data["keys"]
	if d := cmp.Diff([]string{"alice", "bob.smith@example.com", "carol"}, keys); d != "" {
		t.Fatalf("list (-want +got):\n%s", d)
	}
	// An update without a password keeps the password and other fields.
	h.must(logical.UpdateOperation, "users/alice", `{"token_policies":["p1"]}`)
	h.must(logical.UpdateOperation, "users/alice", `{"token_ttl":60}`)
	if _, err := h.login("alice", "pw-alice"); err != nil {
		t.Fatalf("login after update: %v", err)
	}
	if got := h.must(logical.ReadOperation, "users/alice", "").Data["token_policies"]; !slices.Equal(got.([]string), []string{"p1"}) {
		t.Fatalf("got policies %v, want [p1]", got)
	}
	h.must(logical.DeleteOperation, "users/alice", "")
	if resp := h.must(logical.ReadOperation, "users/alice", ""); resp != nil {
		t.Fatalf("read after delete: got %+v, want nil", resp)
	}
	resp, err := h.login("alice", "pw-alice")
	wantInvalidLogin(t, resp, err)
}

func TestPasswordAndPoliciesPaths(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "users/bob", `{"password":"old","token_policies":"a"}`)
	h.must(logical.UpdateOperation, "users/bob/password", `{"password":"new"}`)
	resp, err := h.login("bob", "old")
	wantInvalidLogin(t, resp, err)
	if _, err := h.login("bob", "new"); err != nil {
		t.Fatalf("login with the new password: %v", err)
	}
	tests := []struct {
		name, body string
		want       []string
	}{
		{"token_policies", `{"token_policies":["x","y"]}`, []string{"x", "y"}},
		{"legacy policies", `{"policies":"z"}`, []string{"z"}},
		{"cleared", `{"token_policies":[]}`, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.must(logical.UpdateOperation, "users/bob/policies", tc.body)
			got := h.must(logical.ReadOperation, "users/bob", "").Data["token_policies"].([]string)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPasswordNeverStoredOrShown(t *testing.T) {
	h := newHarness(t)
	const pw = "plaintext-password-123"
	h.must(logical.UpdateOperation, "users/alice", `{"password":"`+pw+`"}`)
	h.must(logical.UpdateOperation, "users/bob", `{"password":"first-`+pw+`"}`)
	h.must(logical.UpdateOperation, "users/bob/password", `{"password":"second-`+pw+`"}`)
	stored := h.stored()
	if len(stored) != 2 {
		t.Fatalf("got %d stored users, want 2", len(stored))
	}
	for name, v := range stored {
		if strings.Contains(v, pw) {
			t.Fatalf("user %q: password stored in plaintext", name)
		}
	}
	// Two users with the same password get different hashes (salted).
	h.must(logical.UpdateOperation, "users/carol", `{"password":"`+pw+`"}`)
	a, c := h.stored()["alice"], h.stored()["carol"]
	if a == c {
		t.Fatalf("two users with the same password have identical entries")
	}
	data := h.must(logical.ReadOperation, "users/alice", "").Data
	for k, v := range roundTrip(t, data) {
		if strings.Contains(strings.ToLower(k), "password") || strings.Contains(strings.ToLower(k), "hash") {
			t.Fatalf("read shows %q = %v", k, v)
		}
	}
}

func TestUserBadInput(t *testing.T) {
	tests := []struct {
		name, path, body string
	}{
		{"new user without password", "users/new", `{"token_policies":"a"}`},
		{"empty password", "users/new", `{"password":""}`},
		{"password not a string", "users/new", `{"password":12}`},
		{"bad name", "users/Bob!", `{"password":"x"}`},
		{"name starting with dash", "users/-bob", `{"password":"x"}`},
		{"name ending with dot", "users/bob.", `{"password":"x"}`},
		{"bad ttl", "users/new", `{"password":"x","token_ttl":"soon"}`},
		{"negative ttl", "users/new", `{"password":"x","token_ttl":-3}`},
		{"ttl above max", "users/new", `{"password":"x","token_ttl":"2h","token_max_ttl":"1h"}`},
		{"bad cidr", "users/new", `{"password":"x","token_bound_cidrs":"10.0.0.0/99"}`},
		{"bad token type", "users/new", `{"password":"x","token_type":"gold"}`},
		{"bad num uses", "users/new", `{"password":"x","token_num_uses":"many"}`},
		{"policies for missing user", "users/nobody/policies", `{"token_policies":"a"}`},
		{"policies without policies", "users/bob/policies", `{}`},
		{"password for missing user", "users/nobody/password", `{"password":"a"}`},
		{"password path without password", "users/bob/password", `{}`},
		{"empty new password", "users/bob/password", `{"password":""}`},
		{"login without password", "login/bob", `{}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.must(logical.UpdateOperation, "users/bob", `{"password":"pw","token_ttl":60}`)
			before := h.stored()
			_, err := h.do(logical.UpdateOperation, tc.path, tc.body)
			wantKind(t, err, logical.ErrInvalidRequest)
			if d := cmp.Diff(before, h.stored()); d != "" {
				t.Fatalf("bad input changed storage (-before +after):\n%s", d)
			}
		})
	}
}

func TestUnknownFieldsWarn(t *testing.T) {
	h := newHarness(t)
	resp := h.must(logical.UpdateOperation, "users/bob", `{"password":"pw","colour":"blue"}`)
	if resp == nil || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "colour") {
		t.Fatalf("got %+v, want one warning naming colour", resp)
	}
	if _, err := h.login("bob", "pw"); err != nil {
		t.Fatalf("user with an unknown field was not stored: %v", err)
	}
}

// yieldingBackend gives way to other goroutines inside every Get, so that
// unguarded read-modify-write cycles interleave and lose updates.
type yieldingBackend struct{ *inmem.Backend }

func (b yieldingBackend) Get(ctx context.Context, key string) (*storage.Entry, error) {
	for range 10 {
		runtime.Gosched()
	}
	return b.Backend.Get(ctx, key)
}

func TestConcurrentUpdatesKeepEachOther(t *testing.T) {
	h := newHarness(t)
	h.view = yieldingBackend{h.st}
	h.must(logical.UpdateOperation, "users/bob", `{"password":"pw"}`)
	// Each round changes the password and the policies at once; without
	// the engine's lock one read-modify-write often overwrites the other.
	for i := range 30 {
		pw, policy := fmt.Sprintf("pw-%d", i), fmt.Sprintf("p%d", i)
		var (
			wg         sync.WaitGroup
			errA, errB error
		)
		wg.Go(func() { _, errA = h.do(logical.UpdateOperation, "users/bob/password", `{"password":"`+pw+`"}`) })
		wg.Go(func() {
			_, errB = h.do(logical.UpdateOperation, "users/bob/policies", `{"token_policies":"`+policy+`"}`)
		})
		wg.Wait()
		if errA != nil || errB != nil {
			t.Fatalf("round %d: updates failed: %v, %v", i, errA, errB)
		}
		if _, err := h.login("bob", pw); err != nil {
			t.Fatalf("round %d: a policies update undid the password change: %v", i, err)
		}
		got := h.must(logical.ReadOperation, "users/bob", "").Data["token_policies"].([]string)
		if !slices.Equal(got, []string{policy}) {
			t.Fatalf("round %d: got policies %v, want [%s]: a password update undid them", i, got, policy)
		}
	}
}

func TestUnsupportedAndExists(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "users/bob", `{"password":"pw"}`)
	tests := []struct {
		name string
		op   logical.Operation
		path string
		kind error
	}{
		{"read login", logical.ReadOperation, "login/bob", logical.ErrUnsupportedOperation},
		{"read users", logical.ReadOperation, "users", logical.ErrUnsupportedOperation},
		{"read password", logical.ReadOperation, "users/bob/password", logical.ErrUnsupportedOperation},
		{"unknown sub path", logical.ReadOperation, "users/bob/other", logical.ErrUnsupportedPath},
		{"unknown path", logical.ReadOperation, "config", logical.ErrUnsupportedPath},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.do(tc.op, tc.path, "")
			wantKind(t, err, tc.kind)
		})
	}
	ec := h.eng.(logical.ExistenceChecker)
	// Only users/:name can be created; a write under it (a password)
	// changes an existing user: an update.
	for path, want := range map[string]bool{"users/BOB": true, "users/alice": false, "login/bob": true, "users/alice/password": true} {
		got, err := ec.Exists(context.Background(), &logical.Request{Path: path, Storage: h.st})
		if err != nil || got != want {
			t.Fatalf("Exists(%q): got %v, %v; want %v", path, got, err, want)
		}
	}
	if got := h.eng.(logical.LoginPaths).LoginPaths(); !slices.Equal(got, []string{"login/*"}) {
		t.Fatalf("got login paths %v, want [login/*]", got)
	}
}
