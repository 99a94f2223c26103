package transit

import (
	"context"
	"encoding/base64"
	"strings"

	"github.com/arca-secrets/arca/logical"
)

// datakey answers datakey/plaintext/:name and datakey/wrapped/:name: a new
// random key for envelope encryption, encrypted under the named key, and
// for plaintext also in the clear. The engine keeps nothing.
func (e *engine) datakey(ctx context.Context, req *logical.Request, rest string) (*logical.Response, error) {
	kind, name, _ := strings.Cut(rest, "/")
	if kind != "plaintext" && kind != "wrapped" {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "datakey type must be plaintext or wrapped")
	}
	p, err := e.keys.mustGet(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	bits, ok, err := logical.IntParam(req.Data, "bits")
	if err != nil {
		return nil, err
	}
	if !ok {
		bits = 256
	}
	if bits != 128 && bits != 256 && bits != 512 {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "bits must be 128, 256 or 512")
	}
	c, err := readCryptParams(req.Data, 0)
	if err != nil {
		return nil, err
	}
	if p, err = e.useKey(ctx, req, p); err != nil {
		return nil, err
	}
	key, err := randomBytes(bits / 8)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	ct, n, err := p.seal(key, c.context, c.ad, c.version)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"ciphertext": ct, "key_version": n}
	if kind == "plaintext" {
		out["plaintext"] = base64.StdEncoding.EncodeToString(key)
	}
	return &logical.Response{Data: out}, nil
}
