package e2e

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"
)

func TestCubbyholeIsPrivate(t *testing.T) {
	_, root := startDev(t, "root")
	mk := func() *api.Client {
		s, err := root.Auth().Token().Create(&api.TokenCreateRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return tokenClient(t, root, s.Auth.ClientToken)
	}
	a, b := mk(), mk()
	if _, err := a.Logical().Write("cubbyhole/note", map[string]any{"v": "a's secret"}); err != nil {
		t.Fatal(err)
	}
	if s, err := a.Logical().Read("cubbyhole/note"); err != nil || s.Data["v"] != "a's secret" {
		t.Fatalf("owner read: %v, %v", s, err)
	}
	for name, c := range map[string]*api.Client{"other token": b, "root": root} {
		if s, err := c.Logical().Read("cubbyhole/note"); err != nil || s != nil {
			t.Fatalf("%s sees the cubbyhole: %v, %v", name, s, err)
		}
	}
	mounts, err := root.Sys().ListMounts()
	if err != nil || mounts["cubbyhole/"] == nil {
		t.Fatalf("cubbyhole/ not listed: %v", err)
	}
	if err := root.Sys().Unmount("cubbyhole"); statusOf(err) != 400 {
		t.Fatalf("unmounting cubbyhole: got %v, want 400", err)
	}
}

func TestResponseWrapping(t *testing.T) {
	_, root := startDev(t, "root")
	if _, err := root.KVv2("secret").Put(t.Context(), "app", map[string]any{"pw": "hunter2"}); err != nil {
		t.Fatal(err)
	}
	wrapping, err := root.Clone()
	if err != nil {
		t.Fatal(err)
	}
	wrapping.SetToken("root")
	wrapping.SetWrappingLookupFunc(func(string, string) string { return "5m" })
	s, err := wrapping.Logical().Read("secret/data/app")
	if err != nil || s.WrapInfo == nil || s.WrapInfo.Token == "" || s.Data != nil {
		t.Fatalf("wrapped read: %+v, %v", s, err)
	}
	if s.WrapInfo.TTL != 300 || s.WrapInfo.CreationPath != "secret/data/app" {
		t.Fatalf("wrap info: %+v", s.WrapInfo)
	}
	look, err := root.Logical().Write("sys/wrapping/lookup", map[string]any{"token": s.WrapInfo.Token})
	if err != nil || look.Data["creation_path"] != "secret/data/app" {
		t.Fatalf("lookup: %v, %v", look, err)
	}
	// The wrapping token is good for nothing else.
	if _, err := tokenClient(t, root, s.WrapInfo.Token).KVv2("secret").Get(t.Context(), "app"); statusOf(err) != 403 {
		t.Fatalf("wrapping token used as a token: got %v, want 403", err)
	}
	// Exactly one of several concurrent unwraps gets the response.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, err := root.Logical().Unwrap(s.WrapInfo.Token)
			if err == nil && u != nil {
				inner, _ := u.Data["data"].(map[string]any)
				if inner["pw"] == "hunter2" {
					wins.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d unwraps succeeded, want exactly 1", wins.Load())
	}
	if _, err := root.Logical().Unwrap(s.WrapInfo.Token); statusOf(err) != 400 {
		t.Fatalf("second unwrap: got %v, want 400", err)
	}

	// sys/wrapping/wrap and rewrap.
	w, err := wrapping.Logical().Write("sys/wrapping/wrap", map[string]any{"k": "v"})
	if err != nil || w.WrapInfo == nil {
		t.Fatalf("wrap: %+v, %v", w, err)
	}
	rw, err := root.Logical().Write("sys/wrapping/rewrap", map[string]any{"token": w.WrapInfo.Token})
	if err != nil || rw.WrapInfo == nil || rw.WrapInfo.Token == w.WrapInfo.Token {
		t.Fatalf("rewrap: %+v, %v", rw, err)
	}
	if _, err := root.Logical().Unwrap(w.WrapInfo.Token); statusOf(err) != 400 {
		t.Fatalf("unwrap of the rewrapped token: got %v, want 400", err)
	}
	u, err := root.Logical().Unwrap(rw.WrapInfo.Token)
	if err != nil || u.Data["k"] != "v" {
		t.Fatalf("unwrap after rewrap: %+v, %v", u, err)
	}

	// A token handed out wrapped: the auth block survives the round trip.
	tw, err := wrapping.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"default"}})
	if err != nil || tw.WrapInfo == nil || tw.WrapInfo.WrappedAccessor == "" {
		t.Fatalf("wrapped token create: %+v, %v", tw, err)
	}
	ut, err := root.Logical().Unwrap(tw.WrapInfo.Token)
	if err != nil || ut.Auth == nil || ut.Auth.Accessor != tw.WrapInfo.WrappedAccessor {
		t.Fatalf("unwrapped token: %+v, %v", ut, err)
	}

	// An expired wrapping token fails.
	short, err := root.Clone()
	if err != nil {
		t.Fatal(err)
	}
	short.SetToken("root")
	short.SetWrappingLookupFunc(func(string, string) string { return "1s" })
	sw, err := short.Logical().Read("secret/data/app")
	if err != nil || sw.WrapInfo == nil {
		t.Fatal(err)
	}
	if !eventually(10*time.Second, func() bool {
		_, err = root.Logical().Write("sys/wrapping/lookup", map[string]any{"token": sw.WrapInfo.Token})
		return statusOf(err) == 400
	}) {
		t.Fatalf("wrapping token with ttl 1s still valid after 10s: lookup: %v", err)
	}
	if _, err := root.Logical().Unwrap(sw.WrapInfo.Token); statusOf(err) != 400 {
		t.Fatalf("unwrap after expiry: got %v, want 400", err)
	}
}

// TestPolicyWrappingBounds: min_wrapping_ttl and max_wrapping_ttl in a
// policy force and bound response wrapping.
func TestPolicyWrappingBounds(t *testing.T) {
	_, root := startDev(t, "root")
	if _, err := root.KVv2("secret").Put(t.Context(), "w/x", map[string]any{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	if err := root.Sys().PutPolicy("wrapped", `path "secret/data/w/*" {
  capabilities = ["read"]
  min_wrapping_ttl = "1m"
  max_wrapping_ttl = "10m"
}`); err != nil {
		t.Fatal(err)
	}
	s, err := root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"wrapped"}})
	if err != nil {
		t.Fatal(err)
	}
	read := func(ttl string) (*api.Secret, error) {
		c := tokenClient(t, root, s.Auth.ClientToken)
		if ttl != "" {
			c.SetWrappingLookupFunc(func(string, string) string { return ttl })
		}
		return c.Logical().Read("secret/data/w/x")
	}
	if _, err := read(""); statusOf(err) != 403 {
		t.Fatalf("unwrapped read: got %v, want 403", err)
	}
	if _, err := read("1h"); statusOf(err) != 403 {
		t.Fatalf("wrap TTL above max: got %v, want 403", err)
	}
	w, err := read("5m")
	if err != nil || w.WrapInfo == nil {
		t.Fatalf("wrapped read within bounds: %+v, %v", w, err)
	}
}
