package approle_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/arca-secrets/arca/logical"
)

func TestSecretIDGenerate(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "role/app", `{"secret_id_ttl":"1h","secret_id_num_uses":10}`)
	resp := h.must(logical.UpdateOperation, "role/app/secret-id", "")
	got := roundTrip(t, resp.Data)
	if d := cmp.Diff(roundTrip(t, map[string]any{"secret_id_ttl": 3600, "secret_id_num_uses": 10}),
		map[string]any{"secret_id_ttl": got["secret_id_ttl"], "secret_id_num_uses": got["secret_id_num_uses"]}); d != "" {
		t.Fatalf("role defaults (-want +got):\n%s", d)
	}
	id, acc := got["secret_id"].(string), got["secret_id_accessor"].(string)
	if len(id) != 36 || len(acc) != 36 || id == acc {
		t.Fatalf("got secret_id %q and accessor %q, want two different UUIDs", id, acc)
	}
	narrowed := roundTrip(t, h.must(logical.UpdateOperation, "role/app/secret-id", `{"ttl":"10m","num_uses":2}`).Data)
	if narrowed["secret_id_ttl"] != json.Number("600") || narrowed["secret_id_num_uses"] != json.Number("2") {
		t.Fatalf("got %v, want ttl 600 and 2 uses", narrowed)
	}
	other, _ := h.secretID("app", "")
	if other == id {
		t.Fatalf("two secret IDs are equal: %q", id)
	}
}

func TestSecretIDListLookupDestroy(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "role/app", `{"secret_id_bound_cidrs":"10.0.0.0/8","token_bound_cidrs":"10.1.0.0/16"}`)
	if resp := h.must(logical.ListOperation, "role/app/secret-id/", ""); resp != nil {
		t.Fatalf("empty list: got %+v, want nil", resp)
	}
	id1, acc1 := h.secretID("app", `{"metadata":"{\"tag\":\"prod\"}","cidr_list":"10.0.0.0/16","token_bound_cidrs":["10.1.2.0/24"],"num_uses":3,"ttl":60}`)
	id2, acc2 := h.secretID("app", `{"metadata":{"k":"v"}}`)

	keys := h.must(logical.ListOperation, "role/app/secret-id/", "").Data["keys"].([]string)
	want := []string{acc1, acc2}
	slices.Sort(want)
	if d := cmp.Diff(want, keys); d != "" {
		t.Fatalf("accessor list (-want +got):\n%s", d)
	}

	created := h.clock.Now()
	wantLookup := roundTrip(t, map[string]any{
		"secret_id_accessor": acc1,
		"cidr_list":          []string{"10.0.0.0/16"},
		"token_bound_cidrs":  []string{"10.1.2.0/24"},
		"metadata":           map[string]string{"tag": "prod"},
		"secret_id_num_uses": 3,
		"secret_id_ttl":      60,
		"creation_time":      created,
		"expiration_time":    created.Add(time.Minute),
		"last_updated_time":  created,
	})
	bySecret := roundTrip(t, h.must(logical.UpdateOperation, "role/app/secret-id/lookup", `{"secret_id":"`+id1+`"}`).Data)
	if d := cmp.Diff(wantLookup, bySecret); d != "" {
		t.Fatalf("lookup (-want +got):\n%s", d)
	}
	byAcc := roundTrip(t, h.must(logical.UpdateOperation, "role/app/secret-id-accessor/lookup", `{"secret_id_accessor":"`+acc1+`"}`).Data)
	if d := cmp.Diff(wantLookup, byAcc); d != "" {
		t.Fatalf("accessor lookup (-want +got):\n%s", d)
	}
	for _, v := range bySecret {
		if s, ok := v.(string); ok && s == id1 {
			t.Fatalf("lookup answered the secret ID itself")
		}
	}
	if resp := h.must(logical.UpdateOperation, "role/app/secret-id/lookup", `{"secret_id":"nope"}`); resp != nil {
		t.Fatalf("lookup of unknown secret ID: got %+v, want nil", resp)
	}

	h.must(logical.UpdateOperation, "role/app/secret-id/destroy", `{"secret_id":"`+id1+`"}`)
	h.must(logical.DeleteOperation, "role/app/secret-id-accessor/destroy", `{"secret_id_accessor":"`+acc2+`"}`)
	for _, id := range []string{id1, id2} {
		if resp := h.must(logical.UpdateOperation, "role/app/secret-id/lookup", `{"secret_id":"`+id+`"}`); resp != nil {
			t.Fatalf("lookup after destroy: got %+v, want nil", resp)
		}
		resp, err := h.login(h.roleID("app"), id)
		wantInvalidLogin(t, resp, err)
	}
	if resp := h.must(logical.ListOperation, "role/app/secret-id/", ""); resp != nil {
		t.Fatalf("list after destroying all: got %+v, want nil", resp)
	}
	// Destroying what is gone is not an error.
	h.must(logical.UpdateOperation, "role/app/secret-id/destroy", `{"secret_id":"`+id1+`"}`)
	h.must(logical.UpdateOperation, "role/app/secret-id-accessor/destroy", `{"secret_id_accessor":"`+acc1+`"}`)
}

func TestCustomSecretID(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "role/app", `{}`)
	resp := h.must(logical.UpdateOperation, "role/app/custom-secret-id", `{"secret_id":"my-own-secret"}`)
	if got := resp.Data["secret_id"]; got != "my-own-secret" {
		t.Fatalf("got secret_id %v, want my-own-secret", got)
	}
	if _, err := h.login(h.roleID("app"), "my-own-secret"); err != nil {
		t.Fatalf("login with the custom secret ID: %v", err)
	}
	_, err := h.do(logical.UpdateOperation, "role/app/custom-secret-id", `{"secret_id":"my-own-secret"}`)
	wantKind(t, err, logical.ErrInvalidRequest)
}

func TestSecretIDsNotStoredInPlaintext(t *testing.T) {
	h := newHarness(t)
	h.must(logical.UpdateOperation, "role/app", `{"role_id":"plain-role-id-123"}`)
	var secrets []string
	for range 5 {
		id, _ := h.secretID("app", `{"num_uses":5}`)
		secrets = append(secrets, id)
	}
	h.must(logical.UpdateOperation, "role/app/custom-secret-id", `{"secret_id":"custom-plain-secret"}`)
	secrets = append(secrets, "custom-plain-secret")
	// Use them, so that the decremented records are scanned too.
	for _, s := range secrets[:2] {
		if _, err := h.login("plain-role-id-123", s); err != nil {
			t.Fatalf("login: %v", err)
		}
	}
	dump := h.dump()
	if len(dump) < 2*len(secrets) {
		t.Fatalf("got %d stored entries, want at least %d (the scan is not seeing storage)", len(dump), 2*len(secrets))
	}
	for k, v := range dump {
		for _, s := range secrets {
			if strings.Contains(k, s) || strings.Contains(v, s) {
				t.Fatalf("secret ID stored in plaintext in entry %q", k)
			}
		}
		if strings.Contains(k, "plain-role-id-123") {
			t.Fatalf("role ID used as a storage key: %q", k)
		}
	}
}

func TestSecretIDBadInput(t *testing.T) {
	tests := []struct {
		name, path, body string
		kind             error
	}{
		{"missing role", "role/missing/secret-id", `{}`, logical.ErrInvalidRequest},
		{"list missing role", "role/missing/secret-id", "", logical.ErrInvalidRequest},
		{"bad ttl", "role/app/secret-id", `{"ttl":"forever"}`, logical.ErrInvalidRequest},
		{"ttl above role", "role/app/secret-id", `{"ttl":"2h"}`, logical.ErrInvalidRequest},
		{"unlimited ttl on limited role", "role/app/secret-id", `{"ttl":0}`, logical.ErrInvalidRequest},
		{"uses above role", "role/app/secret-id", `{"num_uses":6}`, logical.ErrInvalidRequest},
		{"unlimited uses on limited role", "role/app/secret-id", `{"num_uses":0}`, logical.ErrInvalidRequest},
		{"bad num uses", "role/app/secret-id", `{"num_uses":"x"}`, logical.ErrInvalidRequest},
		{"bad metadata", "role/app/secret-id", `{"metadata":"{not json"}`, logical.ErrInvalidRequest},
		{"metadata not strings", "role/app/secret-id", `{"metadata":{"a":1}}`, logical.ErrInvalidRequest},
		{"cidr outside role", "role/app/secret-id", `{"cidr_list":"192.168.0.0/16"}`, logical.ErrInvalidRequest},
		{"cidr wider than role", "role/app/secret-id", `{"cidr_list":"10.0.0.0/7"}`, logical.ErrInvalidRequest},
		{"token cidr outside role", "role/app/secret-id", `{"token_bound_cidrs":"192.168.0.0/16"}`, logical.ErrInvalidRequest},
		{"bad cidr", "role/app/secret-id", `{"cidr_list":"10.0.0.300/8"}`, logical.ErrInvalidRequest},
		{"custom without secret", "role/app/custom-secret-id", `{}`, logical.ErrInvalidRequest},
		{"lookup without secret", "role/app/secret-id/lookup", `{}`, logical.ErrInvalidRequest},
		{"lookup without accessor", "role/app/secret-id-accessor/lookup", `{}`, logical.ErrInvalidRequest},
		{"destroy without secret", "role/app/secret-id/destroy", `{}`, logical.ErrInvalidRequest},
		{"no secret IDs on unbound role", "role/open/secret-id", `{}`, logical.ErrInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.must(logical.UpdateOperation, "role/app", `{"secret_id_ttl":"1h","secret_id_num_uses":5,
				"secret_id_bound_cidrs":"10.0.0.0/8","token_bound_cidrs":"10.0.0.0/8"}`)
			h.must(logical.UpdateOperation, "role/open", `{"bind_secret_id":false,"secret_id_bound_cidrs":"10.0.0.0/8"}`)
			op := logical.UpdateOperation
			if tc.body == "" {
				op = logical.ListOperation
			}
			_, err := h.do(op, tc.path, tc.body)
			wantKind(t, err, tc.kind)
			if keys := h.must(logical.ListOperation, "role/app/secret-id/", ""); keys != nil {
				t.Fatalf("bad input stored secret IDs %v", keys.Data["keys"])
			}
		})
	}
}
