package kv_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/arca-secrets/arca/logical"
)

func TestV2ConcurrentWritesKeepEveryVersion(t *testing.T) {
	const writers = 50
	h := newHarness(t, "2")
	h.must(logical.UpdateOperation, "config", `{"max_versions":100}`)

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			_, err := h.eng.HandleRequest(t.Context(), &logical.Request{
				Operation: logical.UpdateOperation,
				Path:      "data/shared",
				Data:      map[string]any{"data": map[string]any{"writer": fmt.Sprint(i)}},
				Storage:   h.st,
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent write: %v", err)
		}
	}

	seen := map[string]int{}
	for n := 1; n <= writers; n++ {
		resp := h.must(logical.ReadOperation, "data/shared", fmt.Sprintf(`{"version":%d}`, n))
		if resp == nil || resp.NotFound {
			t.Fatalf("version %d: got %+v, want data", n, resp)
		}
		w := resp.Data["data"].(map[string]any)["writer"].(string)
		if prev, dup := seen[w]; dup {
			t.Fatalf("versions %d and %d both hold writer %s", prev, n, w)
		}
		seen[w] = n
	}
	if len(seen) != writers {
		t.Fatalf("got %d distinct writers, want %d", len(seen), writers)
	}
	meta := h.must(logical.ReadOperation, "metadata/shared", "")
	if got := meta.Data["current_version"]; got != writers {
		t.Fatalf("got current_version %v, want %d", got, writers)
	}
}

func TestV2ConcurrentCheckAndSetHasOneWinner(t *testing.T) {
	const writers = 50
	h := newHarness(t, "2")
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			_, err := h.eng.HandleRequest(t.Context(), &logical.Request{
				Operation: logical.UpdateOperation,
				Path:      "data/once",
				Data: map[string]any{
					"data":    map[string]any{"writer": fmt.Sprint(i)},
					"options": map[string]any{"cas": 0},
				},
				Storage: h.st,
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, logical.ErrInvalidRequest):
			t.Fatalf("got error %v, want a check-and-set refusal", err)
		}
	}
	if won != 1 {
		t.Fatalf("got %d successful cas=0 writes, want 1", won)
	}
	meta := h.must(logical.ReadOperation, "metadata/once", "")
	if got := meta.Data["current_version"]; got != 1 {
		t.Fatalf("got current_version %v, want 1", got)
	}
}
