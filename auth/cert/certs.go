package cert

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/arca-secrets/arca/auth/internal/tokenfields"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

const certsPrefix = "certs/"

// maxPEM bounds a trusted certificate entry (a CA bundle is a few KiB).
const maxPEM = 256 << 10

// trusted is one certs/<name> entry: the certificates a client chain must
// lead to, the names its leaf must carry, and the token a login gets.
// Every non-empty allowed_* list must be matched (one entry of it).
type trusted struct {
	Certificate  string   `json:"certificate"`
	DisplayName  string   `json:"display_name,omitempty"`
	AllowedNames []string `json:"allowed_names,omitempty"`
	CommonNames  []string `json:"allowed_common_names,omitempty"`
	DNSSANs      []string `json:"allowed_dns_sans,omitempty"`
	EmailSANs    []string `json:"allowed_email_sans,omitempty"`
	URISANs      []string `json:"allowed_uri_sans,omitempty"`
	OUs          []string `json:"allowed_organizational_units,omitempty"`
	tokenfields.Fields
}

func (t *trusted) lists() map[string]*[]string {
	return map[string]*[]string{
		"allowed_names": &t.AllowedNames, "allowed_common_names": &t.CommonNames,
		"allowed_dns_sans": &t.DNSSANs, "allowed_email_sans": &t.EmailSANs,
		"allowed_uri_sans": &t.URISANs, "allowed_organizational_units": &t.OUs,
	}
}

var entryKeys = []string{"certificate", "display_name", "allowed_names", "allowed_common_names",
	"allowed_dns_sans", "allowed_email_sans", "allowed_uri_sans", "allowed_organizational_units"}

// notSupported are Vault parameters that would narrow who may log in.
// Ignoring one would let in clients the operator meant to keep out, so a
// request that sets one is refused.
var notSupported = []string{"required_extensions", "ocsp_enabled", "allowed_metadata_extensions"}

// isSet says whether a request value asks for something: absent, null,
// false, "" and an empty list (which clients send for defaults) do not.
func isSet(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	}
	return true
}

// fingerprint names the trust anchors of an entry, so that a renewal can
// tell they were replaced since the login.
func (t *trusted) fingerprint() string {
	sum := sha256.Sum256([]byte(t.Certificate))
	return hex.EncodeToString(sum[:])
}

// parsePEM returns the certificates of a PEM bundle; anything else in it
// (a private key pasted by mistake) is refused without being echoed.
func parsePEM(text string) ([]*x509.Certificate, error) {
	if len(text) > maxPEM {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "certificate is larger than %d bytes", maxPEM)
	}
	var out []*x509.Certificate
	rest := []byte(text)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "certificate holds a PEM block of type %q; only CERTIFICATE blocks are accepted", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "certificate %d does not parse: %v", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "certificate must hold at least one PEM-encoded certificate")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "certificate has trailing data that is not PEM")
	}
	return out, nil
}

func getTrusted(ctx context.Context, st storage.Backend, name string) (*trusted, error) {
	en, err := st.Get(ctx, certsPrefix+name)
	if err != nil || en == nil {
		return nil, err
	}
	var t trusted
	if err := json.Unmarshal(en.Value, &t); err != nil {
		return nil, fmt.Errorf("decoding certificate entry %q: %w", name, err)
	}
	return &t, nil
}

func readTrusted(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	t, err := getTrusted(ctx, req.Storage, name)
	if err != nil || t == nil {
		return nil, err
	}
	data := map[string]any{"certificate": t.Certificate, "display_name": t.DisplayName}
	for k, v := range t.lists() {
		data[k] = logical.NonNil(*v)
	}
	t.Fields.Fill(data)
	return &logical.Response{Data: data}, nil
}

// writeTrusted creates or updates an entry; absent fields keep their
// value on update.
func writeTrusted(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	for _, k := range notSupported {
		if isSet(req.Data[k]) {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "%s is not supported by Arca's cert method; refusing rather than trusting more clients than intended", k)
		}
	}
	old, err := getTrusted(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	t := &trusted{}
	if old != nil {
		*t = *old
	}
	if _, ok := req.Data["certificate"]; ok {
		if t.Certificate, err = logical.StringParam(req.Data, "certificate"); err != nil {
			return nil, err
		}
	}
	if t.Certificate == "" {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "certificate is required: the PEM CA (or self-signed certificate) that client certificates must chain to")
	}
	if _, err := parsePEM(t.Certificate); err != nil {
		return nil, err
	}
	if _, ok := req.Data["display_name"]; ok {
		if t.DisplayName, err = logical.StringParam(req.Data, "display_name"); err != nil {
			return nil, err
		}
	}
	for key, dst := range t.lists() {
		if _, ok := req.Data[key]; !ok {
			continue
		}
		if *dst, err = logical.StringListParam(req.Data, key); err != nil {
			return nil, err
		}
	}
	if err := t.Fields.Parse(req.Data); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	if err := req.Storage.Put(ctx, &storage.Entry{Key: certsPrefix + name, Value: raw}); err != nil {
		return nil, err
	}
	if w := tokenfields.UnknownWarning(req.Data, entryKeys, tokenfields.Keys, notSupported); w != nil {
		return &logical.Response{Warnings: w}, nil
	}
	return nil, nil
}
