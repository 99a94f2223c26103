package cert

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/arca-secrets/arca/auth/internal/tokenfields"
	"github.com/arca-secrets/arca/internal/glob"
	"github.com/arca-secrets/arca/logical"
)

// maxChain bounds the certificates a client may present.
const maxChain = 10

// login finds the entry that trusts the client certificate presented in
// the TLS handshake and answers with its token settings. With "name",
// only that entry is tried; without, exactly one entry must trust the
// certificate (ambiguity fails closed: pass name).
func (e *Engine) login(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	chain := req.ClientCertificates
	if len(chain) == 0 {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "no client certificate was presented: log in over TLS with a client certificate")
	}
	if len(chain) > maxChain {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "the client presented %d certificates; at most %d are accepted", len(chain), maxChain)
	}
	want, err := logical.StringParam(req.Data, "name")
	if err != nil {
		return nil, err
	}
	names := []string{want}
	if want == "" {
		if names, err = req.Storage.List(ctx, certsPrefix); err != nil {
			return nil, err
		}
	} else if err := validName(want); err != nil {
		return nil, err
	}
	leaf := chain[0]
	now := e.now()
	var matched []string
	var entry *trusted
	for _, name := range names {
		t, err := getTrusted(ctx, req.Storage, name)
		if err != nil {
			return nil, err
		}
		if t != nil && t.verifies(chain, now) && t.matches(leaf) {
			matched, entry = append(matched, name), t
		}
	}
	who := describe(leaf)
	switch len(matched) {
	case 0:
		if want != "" {
			return nil, logical.Errorf(logical.ErrPermissionDenied, "certificate entry %q does not trust the client certificate (%s)", want, who)
		}
		return nil, logical.Errorf(logical.ErrPermissionDenied, "no certificate entry trusts the client certificate (%s)", who)
	case 1:
	default:
		return nil, logical.Errorf(logical.ErrPermissionDenied, "the client certificate (%s) is trusted by several entries (%s); log in with name set to one of them", who, strings.Join(matched, ", "))
	}
	name := matched[0]
	if !tokenfields.AddrAllowed(entry.BoundCIDRs, req.ClientAddr) {
		return nil, logical.Errorf(logical.ErrPermissionDenied, "login from %s is outside the entry's token_bound_cidrs", req.ClientAddr)
	}
	auth := entry.Fields.Auth()
	auth.DisplayName = entry.DisplayName
	if auth.DisplayName == "" {
		auth.DisplayName = name
	}
	auth.Metadata = map[string]string{
		"cert_name":        name,
		"common_name":      leaf.Subject.CommonName,
		"serial_number":    leaf.SerialNumber.String(),
		"subject_key_id":   colonHex(leaf.SubjectKeyId),
		"authority_key_id": colonHex(leaf.AuthorityKeyId),
	}
	auth.InternalData = map[string]string{
		"cert_name":    name,
		"anchors":      entry.fingerprint(),
		"client_until": leaf.NotAfter.UTC().Format(time.RFC3339),
	}
	return &logical.Response{Auth: auth}, nil
}

// verifies says whether chain leads from its leaf to one of the entry's
// certificates, valid now and usable for client authentication.
func (t *trusted) verifies(chain []*x509.Certificate, now time.Time) bool {
	anchors, err := parsePEM(t.Certificate)
	if err != nil {
		return false
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, a := range anchors {
		roots.AddCert(a)
	}
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err = chain[0].Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return err == nil
}

// matches checks the entry's name constraints against the leaf. As in
// Vault, allowed_names may be met by the common name or any DNS or email
// SAN; each other list by its own field.
func (t *trusted) matches(leaf *x509.Certificate) bool {
	uris := make([]string, len(leaf.URIs))
	for i, u := range leaf.URIs {
		uris[i] = u.String()
	}
	names := append(append([]string{leaf.Subject.CommonName}, leaf.DNSNames...), leaf.EmailAddresses...)
	return anyMatch(t.AllowedNames, names) &&
		anyMatch(t.CommonNames, []string{leaf.Subject.CommonName}) &&
		anyMatch(t.DNSSANs, leaf.DNSNames) &&
		anyMatch(t.EmailSANs, leaf.EmailAddresses) &&
		anyMatch(t.URISANs, uris) &&
		anyMatch(t.OUs, leaf.Subject.OrganizationalUnit)
}

// anyMatch: an empty constraint is met; else one value must match one
// pattern.
func anyMatch(patterns, values []string) bool {
	if len(patterns) == 0 {
		return true
	}
	return slices.ContainsFunc(values, func(v string) bool {
		return v != "" && slices.ContainsFunc(patterns, func(p string) bool { return glob.Match(p, v) })
	})
}

// describe names a certificate in a refusal: public fields only.
func describe(c *x509.Certificate) string {
	return fmt.Sprintf("subject %q, issuer %q, serial %s", c.Subject.String(), c.Issuer.String(), c.SerialNumber.String())
}

func colonHex(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = hex.EncodeToString([]byte{x})
	}
	return strings.Join(parts, ":")
}

// RenewAuth refuses to renew a token whose entry is gone, whose trusted
// certificates were replaced since the login, or whose client certificate
// has expired; otherwise it renews with the entry's current TTLs.
func (e *Engine) RenewAuth(ctx context.Context, req *logical.Request, auth *logical.Auth) (*logical.Auth, error) {
	name := auth.InternalData["cert_name"]
	t, err := getTrusted(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, logical.Errorf(logical.ErrPermissionDenied, "renewal refused: certificate entry %q no longer exists", name)
	}
	if t.fingerprint() != auth.InternalData["anchors"] {
		return nil, logical.Errorf(logical.ErrPermissionDenied, "renewal refused: the trusted certificates of entry %q changed since the login", name)
	}
	until, err := time.Parse(time.RFC3339, auth.InternalData["client_until"])
	if err != nil || !e.now().Before(until) {
		return nil, logical.Errorf(logical.ErrPermissionDenied, "renewal refused: the client certificate has expired; log in again with a current one")
	}
	current := t.Fields.Auth()
	renewed := *auth
	renewed.TTL, renewed.MaxTTL, renewed.Period = current.TTL, current.MaxTTL, current.Period
	return &renewed, nil
}
