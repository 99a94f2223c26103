package server

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"

	"encoding/json"
	"fmt"
	"github.com/arca-secrets/arca/core"
)

// Helpers for request bodies that logical/params.go does not cover: mount
// options arrive as strings or numbers, and config as a nested object.

// stringMapParam reads an object of strings, such as mount options.
func stringMapParam(data map[string]any, key string) (map[string]string, error) {
	switch v := data[key].(type) {
	case nil:
		return nil, nil
	case map[string]any:
		out := make(map[string]string, len(v))
		for k, val := range v {
			switch x := val.(type) {
			case string:
				out[k] = x
			case json.Number:
				out[k] = x.String()
			default:
				return nil, &badRequest{fmt.Sprintf("%s.%s must be a string", key, k)}
			}
		}
		return out, nil
	}
	return nil, &badRequest{fmt.Sprintf("%s must be an object", key)}
}

func objectParam(data map[string]any, key string) (map[string]any, error) {
	switch v := data[key].(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return v, nil
	}
	return nil, &badRequest{fmt.Sprintf("%s must be an object", key)}
}

// decodeKey accepts a key share in hex or standard base64, as Vault does.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return nil, fmt.Errorf("%w: not hex or base64", core.ErrInvalidUnsealKey)
}

// shareUpdate reads the body of a rekey or generate-root update: one key
// share (hex or base64) and the nonce of the attempt it belongs to. The
// caller wipes the share.
func shareUpdate(r *http.Request) (share []byte, nonce string, err error) {
	var req struct {
		Key   string `json:"key"`
		Nonce string `json:"nonce"`
	}
	if err := decodeInto(r, &req); err != nil {
		return nil, "", err
	}
	if req.Key == "" || req.Nonce == "" {
		return nil, "", &badRequest{"'key' and 'nonce' must be specified"}
	}
	share, err = decodeKey(req.Key)
	return share, req.Nonce, err
}
