package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// token returns the client token from X-Vault-Token or a Bearer header.
func requestToken(r *http.Request) string {
	if t := r.Header.Get("X-Vault-Token"); t != "" {
		return t
	}
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return ""
}

// decodeBody decodes a JSON object body into a map (numbers kept exact as
// json.Number). An empty body gives an empty map.
func decodeBody(r *http.Request) (map[string]any, error) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, errTooLarge
		}
		return nil, &badRequest{"reading request body failed"}
	}
	out := map[string]any{}
	if len(bytes.TrimSpace(raw)) == 0 {
		return out, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, &badRequest{"failed to parse JSON input: " + jsonProblem(err)}
	}
	if dec.More() {
		return nil, &badRequest{"failed to parse JSON input: trailing data after the JSON object"}
	}
	return out, nil
}

// jsonProblem describes a decoding error without echoing the input, which
// may hold a secret.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return "the body must be a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	}
	return "invalid JSON"
}

// decodeInto decodes a JSON object body into a struct, refusing unknown
// fields would break Vault clients that send extra ones, so they are
// ignored as Vault does.
func decodeInto(r *http.Request, v any) error {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errTooLarge
		}
		return &badRequest{"reading request body failed"}
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return &badRequest{"failed to parse JSON input: " + jsonProblem(err)}
	}
	return nil
}

// errTooLarge is answered with 413.
var errTooLarge = errors.New("request body is too large")
