package transit

import (
	"errors"

	"github.com/arca-secrets/arca/logical"
)

// maxBatch bounds batch_input so one request cannot hold the engine for
// long; Vault has no fixed bound, clients rarely send more than a few
// thousand.
const maxBatch = 10000

// batchItems returns batch_input, or the request itself as its only item
// when there is no batch_input.
func batchItems(d map[string]any) (items []map[string]any, batch bool, err error) {
	raw, ok := d["batch_input"]
	if !ok || raw == nil {
		return []map[string]any{d}, false, nil
	}
	list, ok := raw.([]any)
	if !ok || len(list) == 0 {
		return nil, true, logical.Errorf(logical.ErrInvalidRequest, "batch_input must be a non-empty list of objects")
	}
	if len(list) > maxBatch {
		return nil, true, logical.Errorf(logical.ErrInvalidRequest, "batch_input has %d items, at most %d are allowed", len(list), maxBatch)
	}
	items = make([]map[string]any, len(list))
	for i, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, true, logical.Errorf(logical.ErrInvalidRequest, "batch_input[%d] must be an object", i)
		}
		items[i] = m
	}
	return items, true, nil
}

// runBatch applies fn to each item. Without batch_input the one result is
// the response's data. In a batch, a client error (bad input, wrong key) is
// that item's result and the other items go on; any other error (storage,
// random source) fails the whole request.
func runBatch(d map[string]any, fn func(map[string]any) (map[string]any, error)) (*logical.Response, error) {
	items, batch, err := batchItems(d)
	if err != nil {
		return nil, err
	}
	if !batch {
		out, err := fn(items[0])
		if err != nil {
			return nil, err
		}
		return &logical.Response{Data: out}, nil
	}
	results := make([]any, len(items))
	for i, it := range items {
		out, err := fn(it)
		if err != nil {
			var le *logical.Error
			if !errors.As(err, &le) {
				return nil, err
			}
			out = map[string]any{"error": le.Msg}
		}
		if ref, ok := it["reference"]; ok {
			out["reference"] = ref
		}
		results[i] = out
	}
	return &logical.Response{Data: map[string]any{"batch_results": results}}, nil
}
