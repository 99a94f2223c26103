package transit

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/arca-secrets/arca/logical"
)

const (
	defaultRandomBytes = 32
	maxRandomBytes     = 1 << 20
)

// random answers random[/:source][/:bytes] {bytes, format, source} with
// bytes from crypto/rand, the only source: "platform" and "all" are
// accepted as names for it, "seal" is refused (there is no seal-side RNG).
func random(_ context.Context, req *logical.Request, rest string) (*logical.Response, error) {
	n := defaultRandomBytes
	if v, ok, err := logical.IntParam(req.Data, "bytes"); err != nil {
		return nil, err
	} else if ok {
		n = v
	}
	source, err := logical.StringParam(req.Data, "source")
	if err != nil {
		return nil, err
	}
	segs := strings.Split(rest, "/")
	if rest == "" {
		segs = nil
	}
	if len(segs) > 2 {
		return nil, logical.Errorf(logical.ErrUnsupportedPath, "use random[/:source][/:bytes]")
	}
	for i, seg := range segs {
		if v, err := strconv.Atoi(seg); err == nil && i == len(segs)-1 {
			n = v
		} else if i == 0 {
			source = seg
		} else {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "bytes in the path must be a number")
		}
	}
	switch source {
	case "", "platform", "all":
	case "seal":
		return nil, logical.Errorf(logical.ErrInvalidRequest, "random source seal is not available; use platform")
	default:
		return nil, logical.Errorf(logical.ErrInvalidRequest, "random source must be platform, seal or all")
	}
	if n < 1 || n > maxRandomBytes {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "bytes must be between 1 and %d", maxRandomBytes)
	}
	format, err := formatParam(req.Data, "base64")
	if err != nil {
		return nil, err
	}
	b, err := randomBytes(n)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]any{"random_bytes": format(b)}}, nil
}

// formatParam reads format (hex or base64).
func formatParam(d map[string]any, def string) (func([]byte) string, error) {
	f, err := logical.StringParam(d, "format")
	if err != nil {
		return nil, err
	}
	if f == "" {
		f = def
	}
	switch f {
	case "base64":
		return base64.StdEncoding.EncodeToString, nil
	case "hex":
		return hex.EncodeToString, nil
	}
	return nil, logical.Errorf(logical.ErrInvalidRequest, "format must be base64 or hex")
}

// hashSum answers hash[/:algorithm] {input, algorithm, format}: a plain
// digest, no key involved (format defaults to hex, as in Vault).
func hashSum(_ context.Context, req *logical.Request, rest string) (*logical.Response, error) {
	algo := rest
	if algo == "" {
		var err error
		if algo, err = logical.StringParam(req.Data, "algorithm"); err != nil {
			return nil, err
		}
	}
	h, err := hashFor(algo)
	if err != nil {
		return nil, err
	}
	input, err := requiredB64(req.Data, "input")
	if err != nil {
		return nil, err
	}
	format, err := formatParam(req.Data, "hex")
	if err != nil {
		return nil, err
	}
	d := h.New()
	d.Write(input)
	return &logical.Response{Data: map[string]any{"sum": format(d.Sum(nil))}}, nil
}
