package cubbyhole

import (
	"context"
	"errors"
	"testing"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage/inmem"
)

func TestEachTokenSeesOnlyItsOwn(t *testing.T) {
	ctx := context.Background()
	st := inmem.New()
	e, err := Factory(ctx, logical.MountConfig{Storage: st})
	if err != nil {
		t.Fatal(err)
	}
	do := func(hash string, op logical.Operation, data map[string]any) (*logical.Response, error) {
		return e.HandleRequest(ctx, &logical.Request{Operation: op, Path: "note", Data: data, Storage: st, TokenHash: hash})
	}
	if _, err := do("hash-a", logical.UpdateOperation, map[string]any{"v": "a's"}); err != nil {
		t.Fatal(err)
	}
	if resp, err := do("hash-b", logical.ReadOperation, nil); err != nil || resp != nil {
		t.Fatalf("token b read token a's note: %+v, %v", resp, err)
	}
	if resp, err := do("hash-a", logical.ReadOperation, nil); err != nil || resp == nil || resp.Data["v"] != "a's" {
		t.Fatalf("token a's own read: %+v, %v", resp, err)
	}
	ec := e.(logical.ExistenceChecker)
	if ok, err := ec.Exists(ctx, &logical.Request{Path: "note", Storage: st, TokenHash: "hash-b"}); err != nil || ok {
		t.Fatalf("b's existence check saw a's note: %v, %v", ok, err)
	}
	if _, err := do("", logical.ReadOperation, nil); !errors.Is(err, logical.ErrInvalidRequest) {
		t.Fatalf("a caller without a token hash (batch token): %v, want an invalid request", err)
	}
	if err := Clear(ctx, st, "hash-a"); err != nil {
		t.Fatal(err)
	}
	if resp, err := do("hash-a", logical.ReadOperation, nil); err != nil || resp != nil {
		t.Fatalf("after Clear: %+v, %v", resp, err)
	}
}
