package userpass_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/arca-secrets/arca/auth/userpass"
	"github.com/arca-secrets/arca/logical"
)

func TestLoginAuth(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "users/bob", `{"password":"correct horse","token_policies":"web,db",
		"token_ttl":"1h","token_max_ttl":"2h","token_num_uses":3,"token_bound_cidrs":"10.0.0.0/8",
		"token_no_default_policy":true,"token_type":"default-batch"}`)
	resp, err := h.login("BOB", "correct horse")
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	want := &logical.Auth{
		Policies:        []string{"db", "web"},
		NoDefaultPolicy: true,
		TTL:             time.Hour,
		MaxTTL:          2 * time.Hour,
		NumUses:         3,
		Renewable:       false, // batch tokens cannot be renewed
		DisplayName:     "bob",
		Metadata:        map[string]string{"username": "bob"},
		BoundCIDRs:      []string{"10.0.0.0/8"},
		TokenType:       "batch",
		InternalData:    map[string]string{"username": "bob"},
	}
	if d := cmp.Diff(want, resp.Auth); d != "" {
		t.Fatalf("auth (-want +got):\n%s", d)
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "users/bob", `{"password":"right"}`)
	tests := []struct {
		name, user, password string
	}{
		{"wrong password", "bob", "wrong"},
		{"password of different case", "bob", "RIGHT"},
		{"unknown user", "mallory", "right"},
		{"malformed username", "bob!", "right"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := h.login(tc.user, tc.password)
			wantInvalidLogin(t, resp, err)
		})
	}
}

// TestUnknownUserCostsAHash checks that a login for an unknown user does
// the hashing work a wrong password does, so that timing does not tell
// which users exist. Without the dummy hash the unknown user answers in
// microseconds; the bound leaves a wide margin for a busy machine.
func TestUnknownUserCostsAHash(t *testing.T) {
	st := newHarness(t).st
	eng := userpass.NewCheap(logical.MountConfig{Storage: st}, 16*1024)
	h := &harness{t: t, eng: eng, st: st}
	h.must(logical.UpdateOperation, "users/bob", `{"password":"right"}`)
	fastest := func(user string) time.Duration {
		best := time.Duration(1 << 62)
		for range 3 {
			start := time.Now()
			_, _ = h.login(user, "wrong")
			best = min(best, time.Since(start))
		}
		return best
	}
	wrong, unknown := fastest("bob"), fastest("mallory")
	if unknown < wrong/4 {
		t.Fatalf("unknown user took %v, wrong password %v: want comparable times", unknown, wrong)
	}
}

func TestHashParametersStoredAndRaised(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "users/bob", `{"password":"pw"}`)
	if got := h.storedParams("bob")["memory"]; got != float64(cheapMemoryKiB) {
		t.Fatalf("got stored memory %v, want %d", got, cheapMemoryKiB)
	}
	// A mount with higher costs still accepts the old hash, and replaces
	// it with one at the new costs.
	stronger := &harness{t: t, eng: userpass.NewCheap(logical.MountConfig{Storage: h.st}, 2*cheapMemoryKiB), st: h.st}
	if _, err := stronger.login("bob", "pw"); err != nil {
		t.Fatalf("login after raising costs: %v", err)
	}
	if got := h.storedParams("bob")["memory"]; got != float64(2*cheapMemoryKiB) {
		t.Fatalf("got stored memory %v after login, want %d", got, 2*cheapMemoryKiB)
	}
	// A failed login never re-hashes, and a cheaper mount never lowers it.
	before := h.stored()["bob"]
	_, _ = (&harness{t: t, eng: userpass.NewCheap(logical.MountConfig{Storage: h.st}, 4*cheapMemoryKiB), st: h.st}).login("bob", "wrong")
	if _, err := h.login("bob", "pw"); err != nil {
		t.Fatalf("login with lower costs: %v", err)
	}
	if after := h.stored()["bob"]; after != before {
		t.Fatalf("hash changed by a failed login or a cheaper mount")
	}
}

func TestFactoryUsesProductionCosts(t *testing.T) {
	h := newHarness(t)
	eng, err := userpass.Factory(context.Background(), logical.MountConfig{Storage: h.st})
	if err != nil {
		t.Fatalf("Factory: %v", err)
	}
	h.eng = eng
	h.must(logical.UpdateOperation, "users/bob", `{"password":"pw"}`)
	p := h.storedParams("bob")
	if p["memory"] != float64(userpass.DefaultMemoryKiB) || p["time"] != float64(2) {
		t.Fatalf("got stored parameters %v, want memory %d and time 2", p, userpass.DefaultMemoryKiB)
	}
	var u map[string]any
	_ = json.Unmarshal([]byte(h.stored()["bob"]), &u)
	if alg := u["password_hash"].(map[string]any)["algorithm"]; alg != "argon2id" {
		t.Fatalf("got algorithm %v, want argon2id", alg)
	}
}

func TestRenewAuth(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "users/bob", `{"password":"pw","token_policies":"a","token_ttl":"1h"}`)
	resp, err := h.login("bob", "pw")
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	renewer := h.eng.(logical.Renewer)
	renew := func() (*logical.Auth, error) {
		return renewer.RenewAuth(context.Background(), &logical.Request{Storage: h.st}, resp.Auth)
	}
	h.must(logical.UpdateOperation, "users/bob", `{"token_ttl":"2h"}`)
	a, err := renew()
	if err != nil {
		t.Fatalf("renew: %v", err)
	}
	if a.TTL != 2*time.Hour || !slices.Equal(a.Policies, []string{"a"}) {
		t.Fatalf("got TTL %v policies %v, want 2h and [a]", a.TTL, a.Policies)
	}
	h.must(logical.UpdateOperation, "users/bob/policies", `{"token_policies":"a,b"}`)
	_, err = renew()
	wantKind(t, err, logical.ErrPermissionDenied)
	h.must(logical.UpdateOperation, "users/bob/policies", `{"token_policies":"a"}`)
	if _, err := renew(); err != nil {
		t.Fatalf("renew with the policies restored: %v", err)
	}
	h.must(logical.DeleteOperation, "users/bob", "")
	_, err = renew()
	wantKind(t, err, logical.ErrPermissionDenied)
}
