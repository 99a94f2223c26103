package kv

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

// v1Prefix is where version 1 keeps its values in the mount's view.
const v1Prefix = "data/"

// v1Engine keeps one JSON object per path. Each request is a single storage
// operation, so it needs no locking of its own.
type v1Engine struct {
	storage storage.Backend
}

var _ logical.Engine = (*v1Engine)(nil)

func (e *v1Engine) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	st := backendFor(req, e.storage)
	if req.Operation == logical.ListOperation {
		return listV1(ctx, st, req.Path)
	}
	if err := checkKey(req.Path); err != nil {
		return nil, err
	}
	key := v1Prefix + req.Path
	switch req.Operation {
	case logical.ReadOperation:
		entry, err := st.Get(ctx, key)
		if err != nil {
			return nil, storageErr("reading secret", err)
		}
		if entry == nil {
			return nil, nil
		}
		data, err := decodeObject(entry.Value)
		if err != nil {
			return nil, storageErr("decoding secret", err)
		}
		return &logical.Response{Data: data}, nil
	case logical.CreateOperation, logical.UpdateOperation:
		if len(req.Data) == 0 {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "missing data fields")
		}
		raw, err := json.Marshal(req.Data)
		if err != nil {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "data cannot be encoded as JSON")
		}
		if err := st.Put(ctx, &storage.Entry{Key: key, Value: raw}); err != nil {
			return nil, storageErr("writing secret", err)
		}
		return nil, nil
	case logical.DeleteOperation:
		if err := st.Delete(ctx, key); err != nil {
			return nil, storageErr("deleting secret", err)
		}
		return nil, nil
	}
	return nil, unsupportedOperation(req.Operation, req.Path)
}

func listV1(ctx context.Context, st storage.Backend, prefix string) (*logical.Response, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	return listKeys(ctx, st, v1Prefix+prefix)
}

// listKeys answers a list with the names under prefix, or nil (404) when
// there are none, as Vault does.
func listKeys(ctx context.Context, st storage.Backend, prefix string) (*logical.Response, error) {
	names, err := st.List(ctx, prefix)
	if err != nil {
		return nil, storageErr("listing secrets", err)
	}
	return logical.ListResponse(names), nil
}

// decodeObject decodes a stored JSON object keeping numbers exact.
func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}
