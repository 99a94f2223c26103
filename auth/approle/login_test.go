package approle_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/arca-secrets/arca/logical"
)

func TestLoginAuth(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "role/app", `{"token_policies":"web,db","token_ttl":"1h","token_max_ttl":"2h",
		"token_period":0,"token_num_uses":4,"token_bound_cidrs":"10.0.0.0/8","token_no_default_policy":true,"token_type":"service"}`)
	id, acc := h.secretID("app", `{"metadata":{"env":"prod","role_name":"spoofed"}}`)
	resp, err := h.login(h.roleID("app"), id)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	want := &logical.Auth{
		Policies:        []string{"db", "web"},
		NoDefaultPolicy: true,
		TTL:             time.Hour,
		MaxTTL:          2 * time.Hour,
		NumUses:         4,
		Renewable:       true,
		DisplayName:     "app",
		Metadata:        map[string]string{"env": "prod", "role_name": "app"},
		BoundCIDRs:      []string{"10.0.0.0/8"},
		TokenType:       "service",
		InternalData:    map[string]string{"role_name": "app", "role_id": h.roleID("app"), "secret_id_accessor": acc},
	}
	if d := cmp.Diff(want, resp.Auth); d != "" {
		t.Fatalf("auth (-want +got):\n%s", d)
	}
	if resp.Data != nil {
		t.Fatalf("login answered data %v, want only auth", resp.Data)
	}
}

func TestLoginSecretTokenCIDRsOverrideRole(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "role/app", `{"token_bound_cidrs":"10.0.0.0/8","token_type":"batch"}`)
	id, _ := h.secretID("app", `{"token_bound_cidrs":"10.9.0.0/16"}`)
	resp, err := h.login(h.roleID("app"), id)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if d := cmp.Diff([]string{"10.9.0.0/16"}, resp.Auth.BoundCIDRs); d != "" {
		t.Fatalf("bound CIDRs (-want +got):\n%s", d)
	}
	if resp.Auth.Renewable || resp.Auth.TokenType != "batch" {
		t.Fatalf("got renewable %v type %q, want a non-renewable batch token", resp.Auth.Renewable, resp.Auth.TokenType)
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "role/app", `{}`)
	h.must(logical.UpdateOperation, "role/other", `{}`)
	good, _ := h.secretID("app", "")
	otherSecret, _ := h.secretID("other", "")
	roleID := h.roleID("app")
	tests := []struct {
		name, roleID, secretID string
	}{
		{"wrong secret", roleID, "00000000-0000-0000-0000-000000000000"},
		{"unknown role", "no-such-role-id", good},
		{"missing secret", roleID, ""},
		{"secret of another role", roleID, otherSecret},
		{"role id used as secret", roleID, roleID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := h.login(tc.roleID, tc.secretID)
			wantInvalidLogin(t, resp, err)
		})
	}
	if _, err := h.login(roleID, good); err != nil {
		t.Fatalf("failed attempts broke the good secret ID: %v", err)
	}
	_, err := h.do(logical.UpdateOperation, "login", `{"secret_id":"x"}`)
	wantKind(t, err, logical.ErrInvalidRequest)
}

func TestLoginBoundCIDRs(t *testing.T) {
	tests := []struct {
		name, role, secret, addr string
		ok                       bool
	}{
		{"role cidr inside", `{"secret_id_bound_cidrs":"10.0.0.0/8"}`, `{}`, "10.1.2.3", true},
		{"role cidr outside", `{"secret_id_bound_cidrs":"10.0.0.0/8"}`, `{}`, "192.168.1.1", false},
		{"secret cidr inside", `{}`, `{"cidr_list":"10.0.0.5/32"}`, "10.0.0.5", true},
		{"secret cidr outside", `{}`, `{"cidr_list":"10.0.0.5"}`, "10.0.0.6", false},
		{"both, outside the secret's", `{"secret_id_bound_cidrs":"10.0.0.0/8"}`, `{"cidr_list":"10.1.0.0/16"}`, "10.2.0.1", false},
		{"no address", `{"secret_id_bound_cidrs":"10.0.0.0/8"}`, `{}`, "", false},
		{"ipv6 inside", `{"secret_id_bound_cidrs":"2001:db8::/32"}`, `{}`, "2001:db8::1", true},
		{"token cidrs do not gate login", `{"token_bound_cidrs":"10.0.0.0/8"}`, `{}`, "192.168.1.1", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.must(logical.UpdateOperation, "role/app", tc.role)
			id, _ := h.secretID("app", tc.secret)
			h.addr = tc.addr
			resp, err := h.login(h.roleID("app"), id)
			if tc.ok && err != nil {
				t.Fatalf("got %v, want login allowed", err)
			}
			if !tc.ok {
				wantInvalidLogin(t, resp, err)
			}
		})
	}
}

func TestLoginWithoutSecretID(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "role/svc", `{"bind_secret_id":false,"secret_id_bound_cidrs":"10.0.0.0/8","token_policies":"p"}`)
	resp, err := h.do(logical.UpdateOperation, "login", `{"role_id":"`+h.roleID("svc")+`"}`)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if got := resp.Auth.Metadata["role_name"]; got != "svc" {
		t.Fatalf("got role_name %q, want svc", got)
	}
	h.addr = "172.16.0.1"
	resp, err = h.do(logical.UpdateOperation, "login", `{"role_id":"`+h.roleID("svc")+`"}`)
	wantInvalidLogin(t, resp, err)
}

func TestLoginNumUses(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "role/app", `{"secret_id_num_uses":3}`)
	id, _ := h.secretID("app", `{"num_uses":2}`)
	roleID := h.roleID("app")
	if _, err := h.login(roleID, id); err != nil {
		t.Fatalf("first login: %v", err)
	}
	got := h.must(logical.UpdateOperation, "role/app/secret-id/lookup", `{"secret_id":"`+id+`"}`).Data["secret_id_num_uses"]
	if got != 1 {
		t.Fatalf("got %v uses left, want 1", got)
	}
	if _, err := h.login(roleID, id); err != nil {
		t.Fatalf("second login: %v", err)
	}
	resp, err := h.login(roleID, id)
	wantInvalidLogin(t, resp, err)
	if resp := h.must(logical.ListOperation, "role/app/secret-id/", ""); resp != nil {
		t.Fatalf("used-up secret ID still listed: %v", resp.Data)
	}
}

func TestLoginTTLExpiry(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "role/app", `{"secret_id_ttl":"10m"}`)
	id, _ := h.secretID("app", "")
	roleID := h.roleID("app")
	h.clock.Advance(10*time.Minute - time.Second)
	if _, err := h.login(roleID, id); err != nil {
		t.Fatalf("login just before expiry: %v", err)
	}
	h.clock.Advance(time.Second)
	resp, err := h.login(roleID, id)
	wantInvalidLogin(t, resp, err)
	if resp := h.must(logical.ListOperation, "role/app/secret-id/", ""); resp != nil {
		t.Fatalf("expired secret ID not removed: %v", resp.Data)
	}
}

func TestLookupRemovesExpired(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "role/app", `{}`)
	id, _ := h.secretID("app", `{"ttl":"1m"}`)
	h.clock.Advance(time.Hour)
	if resp := h.must(logical.UpdateOperation, "role/app/secret-id/lookup", `{"secret_id":"`+id+`"}`); resp != nil {
		t.Fatalf("lookup of expired secret ID: got %v, want nil", resp.Data)
	}
	if resp := h.must(logical.ListOperation, "role/app/secret-id/", ""); resp != nil {
		t.Fatalf("expired secret ID still listed: %v", resp.Data)
	}
}

func TestConcurrentLoginsCountUsesExactly(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "role/app", `{"secret_id_num_uses":5}`)
	id, _ := h.secretID("app", "")
	roleID := h.roleID("app")
	data := map[string]any{"role_id": roleID, "secret_id": id}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		ok, fail int
		other    []error
	)
	for range 20 {
		wg.Go(func() {
			d := map[string]any{}
			for k, v := range data {
				d[k] = v
			}
			_, err := h.eng.HandleRequest(context.Background(), &logical.Request{
				Operation: logical.UpdateOperation, Path: "login", Data: d, Storage: h.st, ClientAddr: "10.0.0.1",
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, logical.ErrInvalidRequest):
				fail++
			default:
				other = append(other, err)
			}
		})
	}
	wg.Wait()
	if ok != 5 || fail != 15 || len(other) != 0 {
		t.Fatalf("got %d successes, %d refusals, other errors %v; want 5, 15, none", ok, fail, other)
	}
}

func TestRenewAuth(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "role/app", `{"token_ttl":"1h"}`)
	id, _ := h.secretID("app", "")
	resp, err := h.login(h.roleID("app"), id)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	renewer := h.eng.(logical.Renewer)
	renew := func() (*logical.Auth, error) {
		return renewer.RenewAuth(context.Background(), &logical.Request{Storage: h.st}, resp.Auth)
	}
	h.must(logical.UpdateOperation, "role/app", `{"token_ttl":"2h"}`)
	a, err := renew()
	if err != nil {
		t.Fatalf("renew: %v", err)
	}
	if a.TTL != 2*time.Hour {
		t.Fatalf("got renewed TTL %v, want the role's current 2h", a.TTL)
	}
	h.must(logical.UpdateOperation, "role/app/role-id", `{"role_id":"rotated"}`)
	_, err = renew()
	wantKind(t, err, logical.ErrPermissionDenied)
	h.must(logical.DeleteOperation, "role/app", "")
	_, err = renew()
	wantKind(t, err, logical.ErrPermissionDenied)
}
